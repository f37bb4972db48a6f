"""The book's build tools: the results report, and (run as ``python -m tools.<name>``) the programs
behind ``make``'s targets. Notebooks import ``utils``, never these, except the results page, which
reports on the other pages."""
