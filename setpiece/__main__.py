from setpiece.cli import app

app()
