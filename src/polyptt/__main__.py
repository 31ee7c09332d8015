"""``python -m polyptt`` runs the command line, as the ``polyptt`` script does."""

from polyptt.cli import main

if __name__ == "__main__":
    main()
