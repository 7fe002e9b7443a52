"""The shared instance core: loading definitions, advancing and committing instances, and what follows a commit."""
