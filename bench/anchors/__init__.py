"""Anchor functions, each a functions-framework source folder like those under functions/."""
