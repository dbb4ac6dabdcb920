"""The colour composite a spectral raster is shown in (map canvas and report previews)."""
import numpy as np

from hsi_blind_fusion.core.display import colour_composite


def test_true_colour_from_wavelengths():
    wl = np.arange(400.0, 1001.0, 10.0)                       # a VNIR imaging spectrometer
    c = colour_composite(wl.size, wl)
    assert c.name == "true colour"
    assert [wl[b] for b in c.bands] == [640.0, 550.0, 470.0]
    assert c.band_numbers == tuple(b + 1 for b in c.bands)


def test_sentinel2_like_msi_is_true_colour():
    wl = [490.0, 560.0, 665.0, 842.0]
    assert colour_composite(4, wl).bands == (2, 1, 0)


def test_false_colours_without_visible_bands():
    nir = np.arange(530.0, 1000.0, 10.0)                       # no blue: colour infrared (NIR as red)
    c = colour_composite(nir.size, nir)
    assert c.name == "colour infrared" and [nir[b] for b in c.bands] == [860.0, 650.0, 550.0]
    swir = np.linspace(800.0, 2500.0, 120)                      # no visible band at all
    c = colour_composite(swir.size, swir)
    assert c.name == "shortwave infrared"
    assert all(abs(swir[b] - t) <= 10 for b, t in zip(c.bands, (2200, 1650, 860)))


def test_fallbacks():
    far = np.linspace(1000.0, 1300.0, 50)                      # no composite fits: evenly spaced, longest as red
    assert colour_composite(50, far).bands == (49, 25, 0)
    shuffled = far[::-1]
    c = colour_composite(50, shuffled)
    assert [shuffled[b] for b in c.bands] == [far[49], far[25], far[0]]
    assert colour_composite(31, None).bands == (30, 15, 0)      # no wavelengths
    assert colour_composite(31, [np.nan] * 31).name == "evenly spaced bands"
    assert colour_composite(1).bands == (0, 0, 0) and colour_composite(2).bands == (1, 0, 0)
