"""Lab manifests and the `dlcourse check` / `dlcourse grade` commands."""
