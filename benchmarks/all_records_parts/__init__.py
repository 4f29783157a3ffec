"""The parts of benchmarks/all_records.py, one job each: where the records are (discovery), what a
CLI run printed (output), the reference annotations (annotations) and what the alerts scored
against them (scoring), the three ways the CLI is run (classify, serial_run over pty_relay,
replay), and the totals and table (summary)."""
