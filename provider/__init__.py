"""The Processing provider ``hsifusion``."""
