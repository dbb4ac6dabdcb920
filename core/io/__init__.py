"""Georeferenced file I/O of the fusion (QGIS-free; rasterio / GDAL).

- :mod:`.wavelengths`: spectral metadata (wavelengths, FWHM, bad bands), read and written.
- :mod:`.reading`: raster metadata and pixels with validity masks.
- :mod:`.pair_grid`: the checked geometry of an HSI/MSI pair (:class:`PairGrid`) and its reading.
- :mod:`.geotiff`: float32 raster writing, whole or window by window.
- :mod:`.raster_formats`: the output formats by extension (GeoTIFF with overviews, COG, ENVI).
- :mod:`.rows`: a written raster read back by strips of rows, or decimated for previews.
- :mod:`.files`: output checks and the one staging mechanism (:class:`Staging`).
- :mod:`.degradation_json`: the degradation JSON.
- :mod:`.tables`: response CSVs and kernel files.
"""
from .degradation_json import DegradationSpec, read_degradation, write_degradation
from .files import (Staging, check_free_space, check_output_path, check_outputs, raster_output_bytes, same_file,
                    write_text, write_text_atomic)
from .geotiff import NODATA, WindowWriter, warp_raster, write_raster
from .pair_grid import (MsiWarp, PairData, PairGrid, coarse_grid, pair_grid, prepare_pair,
                        read_pair, sharp_resampling)
from .raster_formats import RASTER_EXTENSIONS, RasterFormat, raster_format, remove_raster_quietly, sidecar_files
from .reading import RasterData, RasterInfo, raster_info, read_raster
from .rows import RasterRows, read_decimated
from .tables import read_kernel_file, read_numeric_csv, read_srf_csv, srf_table_msi_bands
from .wavelengths import SpectralMetadata, parse_wavelength_list, spectral_metadata, wavelengths_from_dataset

__all__ = [
    "DegradationSpec", "read_degradation", "write_degradation",
    "Staging", "check_free_space", "check_output_path", "check_outputs", "raster_output_bytes", "same_file",
    "write_text", "write_text_atomic",
    "NODATA", "WindowWriter", "warp_raster", "write_raster",
    "sharp_resampling", "MsiWarp", "PairData", "PairGrid", "coarse_grid", "pair_grid", "prepare_pair", "read_pair",
    "RASTER_EXTENSIONS", "RasterFormat", "raster_format", "remove_raster_quietly", "sidecar_files",
    "RasterRows", "read_decimated",
    "RasterData", "RasterInfo", "raster_info", "read_raster",
    "read_kernel_file", "read_numeric_csv", "read_srf_csv", "srf_table_msi_bands",
    "SpectralMetadata", "parse_wavelength_list", "spectral_metadata", "wavelengths_from_dataset",
]
