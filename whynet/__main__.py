"""``python -m whynet`` runs the command line."""

from whynet.cli import main

main()
