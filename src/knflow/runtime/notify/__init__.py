"""notify: deliver notification requests and instance endings to Backstage and webhooks."""
