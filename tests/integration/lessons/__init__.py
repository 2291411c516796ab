"""The lessons' self-checks (notebooks/checks/*.yaml): solutions pass, wrong attempts fail usefully."""
