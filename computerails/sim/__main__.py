"""``python -m computerails.sim``: the demo (see :mod:`computerails.sim.demo`)."""

from computerails.sim.demo import cli

if __name__ == "__main__":
    cli()
