"""The fitting's Adam takes the same steps as torch.optim.Adam, and a fusion no longer imports
torch._dynamo (what torch.optim's first construction costs)."""
import subprocess
import sys

import torch

from hsi_blind_fusion.core.adam import Adam


def test_adam_matches_torch_optim():
    torch.manual_seed(0)
    target = torch.randn(5, 7)
    ours_w, ref_w = torch.zeros(5, 7, requires_grad=True), torch.zeros(5, 7, requires_grad=True)
    extra = torch.zeros(3, requires_grad=True)        # never gets a gradient: skipped by both
    ours, ref = Adam([ours_w, extra], lr=1e-2), torch.optim.Adam([ref_w], lr=1e-2)
    for _ in range(50):
        for w, opt in ((ours_w, ours), (ref_w, ref)):
            opt.zero_grad(set_to_none=True)
            ((w - target) ** 2).sum().backward()
            opt.step()
    assert torch.allclose(ours_w, ref_w, atol=1e-6)
    assert float((ours_w.detach() - target).abs().max()) < float(target.abs().max())   # it moved toward it
    assert torch.equal(extra, torch.zeros(3))


def test_a_fusion_does_not_import_torch_dynamo():
    code = ("import sys; from hsi_blind_fusion.core.synthetic_scene import make_scene; "
            "from hsi_blind_fusion.core import fuse; s = make_scene(32, 4, seed=0); "
            "fuse(s.hsi, s.msi, outer_iterations=1, inner_iterations=1, device='cpu'); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr
