"""What runs on the app's thread."""
