"""The simulation workflow: an LR-HSI / HR-MSI pair from an HR hyperspectral raster."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .. import io
from ..errors import InvalidInputError
from ..kernels import gaussian_kernel
from ..responses import gaussian_srf
from ..progress import check_cancelled
from ..sensor_bands import SENTINEL2_VNIR
from ..simulation import simulate
from ..windows import Window
from .feedback import Feedback, forward_warnings
from .checks import check_simulation
from .requests import SimulationRequest


@dataclass
class SimulationOutcome:
    outputs: dict


def run_simulation(request: SimulationRequest, feedback: Optional[Feedback] = None) -> SimulationOutcome:
    from affine import Affine

    fb = feedback or Feedback()
    scale = int(request.scale)
    with forward_warnings(fb):
        info = check_simulation(request)
        h, w = (info.height // scale) * scale, (info.width // scale) * scale
        if request.kernel_file:
            kernel = io.read_kernel_file(request.kernel_file)
        else:
            size = int(request.kernel_size)
            if size % 2 == 0:
                size += 1
                fb.info(f"kernel size must be odd: using {size}")
            kernel = gaussian_kernel(size, float(request.kernel_sigma))
        wl = info.wavelengths_nm
        msi_names = None
        if request.srf:
            srf = io.read_srf_csv(request.srf, io.srf_table_msi_bands(request.srf, info.count), info.count, wl)
        else:
            if wl is None:
                raise InvalidInputError("the input has no wavelength metadata: give a spectral response CSV (SRF)")
            bands = [b for b in SENTINEL2_VNIR if wl.min() <= b.centre_nm <= wl.max()]
            if not bands:
                raise InvalidInputError(
                    f"no Sentinel-2 band lies within the input's wavelengths ({wl.min():.0f}-{wl.max():.0f} nm): "
                    "give a spectral response CSV (SRF)")
            srf = gaussian_srf([b.centre_nm for b in bands], [b.fwhm_nm for b in bands], wl)
            msi_names = [f"{b.name} ({b.centre_nm:.0f} nm)" for b in bands]
        if srf.shape[0] >= info.count:
            raise InvalidInputError(
                f"the response has {srf.shape[0]} MSI bands for {info.count} input bands: an MSI needs fewer bands")
        io.check_free_space({request.output_hsi: io.raster_output_bytes(info.count, h // scale, w // scale),
                             request.output_msi: io.raster_output_bytes(srf.shape[0], h, w)})
        fb.progress(0.1, "reading the input")
        data = io.read_raster(request.input, Window(0, 0, h, w), info)
        check_cancelled(fb.is_canceled)
        lr, msi = simulate(data.data, kernel, srf, scale, snr_db=request.snr_db if request.snr_db > 0 else None,
                           seed=int(request.seed))
        fb.progress(0.7, "writing the outputs")
        lr_valid = data.valid.reshape(h // scale, scale, w // scale, scale).all(axis=(1, 3))
        hr_t = data.transform
        with io.Staging(fb.is_canceled) as staging:
            io.write_raster(staging.path(request.output_hsi), lr, hr_t * Affine.scale(scale), info.crs,
                            valid=lr_valid, wavelengths_nm=wl, descriptions=info.descriptions,
                            cancel=fb.is_canceled, fwhm_nm=info.fwhm_nm, bad_bands=info.bad_bands)
            msi_wl = (srf @ wl) if wl is not None else None
            io.write_raster(staging.path(request.output_msi), msi, hr_t, info.crs, valid=data.valid,
                            wavelengths_nm=msi_wl, descriptions=msi_names, cancel=fb.is_canceled)
            staging.commit()
    fb.progress(1.0, "done")
    return SimulationOutcome({"OUTPUT_HSI": request.output_hsi, "OUTPUT_MSI": request.output_msi})
