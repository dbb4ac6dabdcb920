"""Shared helpers of the tests: paths and environments (``paths``), small scenes with a known truth
(``scenes``). On ``sys.path`` through pytest.ini's ``pythonpath``."""
