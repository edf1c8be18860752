"""One page: decode it, read it with an engine, turn it upright, judge its text; `worker` does
all of it in a pool process and writes the page's outputs."""
