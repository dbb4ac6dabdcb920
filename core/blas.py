"""Matrix products of NumPy arrays through the Fortran BLAS interface (SciPy's ``?gemm``/``?gemv``).

Why not NumPy's ``@``: QGIS and Debian's ``qgis_process`` link GSL's reference CBLAS
(``libgslcblas``) into the executable. Its ``cblas_*`` symbols come first in the process and then
serve NumPy's ``@``, ``dot`` and ``matmul`` (Debian's NumPy calls the plain ``cblas_*`` names): an
unoptimized, single-threaded BLAS, several times slower than OpenBLAS on the products used here.
GSL has no Fortran symbols (``dgemm_``, what SciPy calls), so these still reach the optimized BLAS,
whose kernels NumPy's ``@`` uses elsewhere: the results equal those of ``@`` in a plain Python to
float precision. Torch's products are not affected (its BLAS is built into torch): a stack of
products is best done by ``torch.matmul`` (as in core/qnr.py).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.blas import get_blas_funcs


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for float32/float64 vectors and matrices; other types and stacks of matrices go to
    NumPy's ``@``. No operand is copied when it is C- or Fortran-contiguous; the result is
    C-contiguous, like NumPy's."""
    a, b = np.asarray(a), np.asarray(b)
    dtype = np.result_type(a, b)
    if dtype not in (np.float32, np.float64) or max(a.ndim, b.ndim) > 2 or 0 in a.shape + b.shape:
        return a @ b
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    if a.ndim == 1 and b.ndim == 1:
        return get_blas_funcs("dot", dtype=dtype)(a, b)
    if b.ndim == 1:
        return _gemv(a, b)
    if a.ndim == 1:
        return _gemv(b.T, a)
    # C = A·B computed as Cᵀ = Bᵀ·Aᵀ in column-major order: its Fortran-ordered result is C in C order
    bt, trans_b = _fortran(b.T)
    at, trans_a = _fortran(a.T)
    return get_blas_funcs("gemm", dtype=dtype)(1.0, bt, at, trans_a=trans_b, trans_b=trans_a).T


def _gemv(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    m, trans = _fortran(a)
    return get_blas_funcs("gemv", dtype=a.dtype)(1.0, m, np.ascontiguousarray(x), trans=trans)


def _fortran(m: np.ndarray) -> tuple[np.ndarray, int]:
    """``m`` as a Fortran-ordered matrix and whether BLAS must transpose it: a C-ordered ``m`` is
    handed over as its (Fortran-ordered) transpose, so f2py need not copy it."""
    if m.flags.f_contiguous:
        return m, 0
    if m.flags.c_contiguous:
        return m.T, 1
    return np.asfortranarray(m), 0
