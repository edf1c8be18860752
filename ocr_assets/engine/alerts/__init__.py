"""Alerts: one message per event that needs a person (a failed run, a failed blocking check, a
folder over its failed-page share, a corpus overdue), sent to a webhook and, through Dagster's
integrations, to Slack or Teams.

Plain Python: what an alert says (`message`), where it is configured (`config`), how it is
posted (`webhook`) and how a batch of them is delivered once each (`dispatch`, with the
manifest as the durable ledger). Which events become alerts is read from Dagster by
`orchestration.alerts`, for the alert sensor and for the command line alike.
"""
