"""A workflow Feedback that keeps what it was told (infos and warnings), for assertions."""
from hsi_blind_fusion.core.workflow.feedback import Feedback


class Recording(Feedback):
    def __init__(self):
        super().__init__()
        self.infos, self.warnings = [], []

    def info(self, text):
        self.infos.append(text)

    def warning(self, text):
        self.warnings.append(text)
