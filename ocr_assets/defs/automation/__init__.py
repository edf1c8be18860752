"""What runs on its own: the sensors and the nightly schedule."""
