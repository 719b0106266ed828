"""kubemu's components, one package each. Services import `shared`, never each other."""
