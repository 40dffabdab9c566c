"""Storage: models, migrations, sessions and every SQL statement the app runs."""
