from edge_monitor.cli import app

app()
