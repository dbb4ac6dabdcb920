"""Small sensor products with the structure of the real ones, for the product tests: an EnMAP L2A
folder (METADATA.XML + SPECTRAL_IMAGE as GeoTIFF or ENVI BSQ), a PRISMA L2D HE5 (h5py), an EMIT
L2A reflectance NetCDF-4 (h5py, with the NetCDF dimension scales) and a Sentinel-2 L2A SAFE
(JPEG2000 band files, MTD_MSIL2A.xml, MTD_TL.xml). The element and attribute names are those of the
real products (see the docstrings of core/io/products/*.py); everything else is made up and tiny."""
import os
import zipfile

import h5py
import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS

ENMAP_NAME = "ENMAP01-____L2A-DT0000001234_20230601T101010Z_001_V010400_20230602T000000Z"


def write_netcdf(path, data, transform, epsg):
    """A NetCDF-4 file with one 3-D variable ``cube`` (band, y, x) and CF georeferencing, as GDAL's
    netCDF driver reads it (``NETCDF:"path":cube``)."""
    n, h, w = data.shape
    with h5py.File(path, "w") as f:
        dims = {}
        for name, vals in (("band", np.arange(1, n + 1, dtype=np.float64)),
                           ("y", transform.f + transform.e * (np.arange(h) + 0.5)),
                           ("x", transform.c + transform.a * (np.arange(w) + 0.5))):
            d = f.create_dataset(name, data=vals)
            d.make_scale(name)
            dims[name] = d
        for axis in ("x", "y"):
            dims[axis].attrs["standard_name"] = np.bytes_(f"projection_{axis}_coordinate")
            dims[axis].attrs["units"] = np.bytes_("m")
        crs = f.create_dataset("crs", data=np.int32(0))
        crs.attrs["crs_wkt"] = np.bytes_(CRS.from_epsg(epsg).to_wkt())
        crs.attrs["spatial_ref"] = np.bytes_(CRS.from_epsg(epsg).to_wkt())
        crs.attrs["grid_mapping_name"] = np.bytes_("transverse_mercator")
        v = f.create_dataset("cube", data=np.asarray(data, np.float32))
        for i, d in enumerate(("band", "y", "x")):
            v.dims[i].attach_scale(dims[d])
        v.attrs["grid_mapping"] = np.bytes_("crs")
    return str(path)


# ------------------------------------------------------------------------------------------------
# EnMAP L2A
# ------------------------------------------------------------------------------------------------

def enmap_metadata(wavelengths, fwhm, gain, bad=(), vnir_count=None, stats=True, level="L2A",
                   image="SPECTRAL_IMAGE.TIF", fmt="GeoTIFF+Metadata"):
    n = len(wavelengths)
    vnir_count = n // 2 if vnir_count is None else vnir_count
    vnir = ",".join(str(i) for i in range(1, vnir_count + 1))
    swir = ",".join(str(i) for i in range(vnir_count + 1, n + 1))
    chars = "\n".join(
        f'      <bandID number="{i + 1}">\n'
        f"        <wavelengthCenterOfBand>{w:.3f}</wavelengthCenterOfBand>\n"
        f"        <FWHMOfBand>{f:.3f}</FWHMOfBand>\n"
        f"        <GainOfBand>{gain}</GainOfBand>\n"
        f"        <OffsetOfBand>0</OffsetOfBand>\n"
        f"      </bandID>" for i, (w, f) in enumerate(zip(wavelengths, fwhm)))
    stat = "\n".join(
        f'      <bandID number="{i + 1}"><minimum>{-32768 if i in bad else 10}</minimum>'
        f"<maximum>{-32768 if i in bad else 9000}</maximum><mean>{-1000000 if i in bad else 2500.5}</mean>"
        f"<stdDeviation>{0 if i in bad else 310.2}</stdDeviation></bandID>" for i in range(n))
    files = "\n".join(f"      <file><name>{ENMAP_NAME}-{k}</name><size>1</size><version>01.04.00</version>"
                      f"<format>binary</format></file>"
                      for k in (image, "METADATA.XML", "QL_PIXELMASK.TIF", "QL_QUALITY_CLOUD.TIF", "QL_VNIR.TIF"))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<level_X>
  <metadata>
    <schema><versionSchema>01.04.00</versionSchema><processingLevel>{level}</processingLevel></schema>
    <name>{ENMAP_NAME}-METADATA.XML</name>
  </metadata>
  <processing><productFormat>{fmt}</productFormat><terrainCorrection>Yes</terrainCorrection></processing>
  <base><format>ENMAP_{level}</format><level>{level}</level><revision>01.04.00</revision></base>
  <specific>
    <code>{level}</code>
    <backgroundValue>-32768</backgroundValue>
    <numberOfVNIRBands>{vnir_count}</numberOfVNIRBands>
    <numberOfSWIRBands>{n - vnir_count}</numberOfSWIRBands>
    <vnirProductQuality><numChannelsExpected>{vnir_count}</numChannelsExpected>
      <expectedChannelsList>{vnir}</expectedChannelsList></vnirProductQuality>
    <swirProductQuality><numChannelsExpected>{n - vnir_count}</numChannelsExpected>
      <expectedChannelsList>{swir}</expectedChannelsList></swirProductQuality>
    <bandCharacterisation>
{chars}
    </bandCharacterisation>
  </specific>
  <product>
    <productFileInformation>
{files}
    </productFileInformation>
    {"<bandStatistics>" + chr(10) + stat + chr(10) + "    </bandStatistics>" if stats else ""}
    <ortho><projection>UTM_Zone33_North</projection><resolution>30</resolution></ortho>
  </product>
</level_X>
"""


def write_enmap(folder, reflectance, wavelengths, transform, crs, bad=(), fmt="TIF", gain=1e-4, stats=True,
                level="L2A", fill_bad=True):
    """An EnMAP L2A product folder ``folder/ENMAP01-…/`` with reflectance scaled to int16 DN (value =
    gain * DN), bad bands (constant per the band statistics) filled with -32768 unless not
    ``fill_bad``. Returns the paths."""
    d = os.path.join(str(folder), ENMAP_NAME)
    os.makedirs(d, exist_ok=True)
    refl = np.asarray(reflectance, dtype=np.float64)
    n = refl.shape[0]
    dn = np.round(refl / gain).astype(np.int16)
    for b in bad if fill_bad else ():
        dn[b] = -32768
    wl = np.asarray(wavelengths, dtype=np.float64)
    fwhm = np.full(n, 8.0)
    image = "SPECTRAL_IMAGE.TIF" if fmt == "TIF" else f"SPECTRAL_IMAGE.{fmt}"
    xml = os.path.join(d, f"{ENMAP_NAME}-METADATA.XML")
    with open(xml, "w") as f:
        f.write(enmap_metadata(wl, fwhm, gain, bad, stats=stats, level=level, image=image,
                               fmt="GeoTIFF+Metadata" if fmt == "TIF" else f"{fmt}+Metadata"))
    img = os.path.join(d, f"{ENMAP_NAME}-{image}")
    prof = dict(width=dn.shape[2], height=dn.shape[1], count=n, dtype="int16", transform=transform, crs=crs,
                nodata=-32768)
    if fmt == "TIF":
        prof.update(driver="GTiff", interleave="band")
    else:
        prof.update(driver="ENVI", interleave=fmt.lower())
    with rasterio.open(img, "w", **prof) as ds:
        ds.write(dn)
    if fmt != "TIF":  # the delivered header is ``.HDR`` beside the ``.BSQ``
        hdr = img[: -len(fmt)] + "hdr"
        os.replace(hdr, img[: -len(fmt)] + "HDR")
        for extra in (img + ".aux.xml",):
            if os.path.exists(extra):
                os.remove(extra)
    with rasterio.open(os.path.join(d, f"{ENMAP_NAME}-QL_PIXELMASK.TIF"), "w", driver="GTiff", width=dn.shape[2],
                       height=dn.shape[1], count=1, dtype="uint8", transform=transform, crs=crs) as ds:
        ds.write(np.zeros((1, dn.shape[1], dn.shape[2]), np.uint8))
    return {"folder": d, "xml": xml, "image": img, "fwhm": fwhm}


def zip_folder(folder, archive):
    """Zip ``folder`` (keeping its name as the top folder in the archive), as DLR delivers products."""
    base = os.path.dirname(os.path.abspath(folder))
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                full = os.path.join(root, name)
                zf.write(full, os.path.relpath(full, base))
    return str(archive)


# ------------------------------------------------------------------------------------------------
# PRISMA L2D
# ------------------------------------------------------------------------------------------------

def write_prisma(path, reflectance, wavelengths, ul_centre, epsg=32633, vnir_last=16, overlap=2, unused=1,
                 flagged=(), level="2D", scale=(0.0, 1.0), swir_scale=(0.0, 0.8)):
    """A PRISMA L2D HE5: bands ``0..vnir_last`` of ``reflectance`` (plus ``overlap`` more, which the
    SWIR also holds) in the VNIR cube in descending wavelength order with ``unused`` empty slots
    (centre 0), the remaining bands in the SWIR cube; DN = (refl - min) / (max - min) * 65535 per
    spectrometer. ``flagged``: band indices (of ``reflectance``) whose flag is 0."""
    refl = np.asarray(reflectance, dtype=np.float64)
    wl = np.asarray(wavelengths, dtype=np.float64)
    n, rows, cols = refl.shape
    v_idx = list(range(0, min(n, vnir_last + 1 + overlap)))[::-1]  # descending wavelengths
    s_idx = list(range(vnir_last + 1, n))

    def dn(idx, lo_hi):
        lo, hi = lo_hi
        return np.clip(np.round((refl[idx] - lo) / (hi - lo) * 65535), 1, 65535).astype(np.uint16)

    outside = np.all(refl == 0, axis=0)  # outside the swath: DN 0 in every band
    vn = dn(v_idx, scale)
    sw = dn(s_idx, swir_scale)
    vn[:, outside] = 0
    sw[:, outside] = 0
    # unused slots (centre 0) at the end of the VNIR cube, as in real products
    vn = np.concatenate([vn, np.zeros((unused, rows, cols), np.uint16)])
    cw_v = np.concatenate([wl[v_idx], np.zeros(unused)])
    fw_v = np.concatenate([np.full(len(v_idx), 9.0), np.zeros(unused)])
    fl_v = np.concatenate([[0 if i in flagged else 1 for i in v_idx], np.zeros(unused)])
    cw_s, fw_s = wl[s_idx], np.full(len(s_idx), 10.0)
    fl_s = np.array([0 if i in flagged else 1 for i in s_idx])
    with h5py.File(path, "w") as f:
        a = f.attrs
        a["Processing_Level"] = np.bytes_(level)
        a["Product_ID"] = np.bytes_("PRS_L2D_STD")
        a["List_Cw_Vnir"], a["List_Fwhm_Vnir"] = cw_v.astype(np.float32), fw_v.astype(np.float32)
        a["List_Cw_Vnir_Flags"] = fl_v.astype(np.int8)
        a["List_Cw_Swir"], a["List_Fwhm_Swir"] = cw_s.astype(np.float32), fw_s.astype(np.float32)
        a["List_Cw_Swir_Flags"] = fl_s.astype(np.int8)
        a["L2ScaleVnirMin"], a["L2ScaleVnirMax"] = np.float32(scale[0]), np.float32(scale[1])
        a["L2ScaleSwirMin"], a["L2ScaleSwirMax"] = np.float32(swir_scale[0]), np.float32(swir_scale[1])
        a["Epsg_Code"] = np.int32(epsg)
        x, y = ul_centre
        a["Product_ULcorner_easting"], a["Product_ULcorner_northing"] = np.float64(x), np.float64(y)
        a["Product_URcorner_easting"], a["Product_URcorner_northing"] = np.float64(x + 30 * (cols - 1)), np.float64(y)
        a["Product_LLcorner_easting"], a["Product_LLcorner_northing"] = np.float64(x), np.float64(y - 30 * (rows - 1))
        a["Product_LRcorner_easting"] = np.float64(x + 30 * (cols - 1))
        a["Product_LRcorner_northing"] = np.float64(y - 30 * (rows - 1))
        swath = f.create_group(f"HDFEOS/SWATHS/PRS_L{level}_HCO")
        fields = swath.create_group("Data Fields")
        # (rows, bands, columns): band-interleaved-by-line
        fields.create_dataset("VNIR_Cube", data=vn.transpose(1, 0, 2))
        fields.create_dataset("SWIR_Cube", data=sw.transpose(1, 0, 2))
        geo = swath.create_group("Geolocation Fields")
        geo.create_dataset("Latitude", data=np.zeros((rows, cols), np.float32))
        geo.create_dataset("Longitude", data=np.zeros((rows, cols), np.float32))
        f.create_group("HDFEOS/SWATHS/PRS_L2D_PCO")
    return str(path)


# ------------------------------------------------------------------------------------------------
# EMIT L2A reflectance
# ------------------------------------------------------------------------------------------------

def write_emit(path, reflectance, wavelengths, geotransform, bad=(), border=1):
    """An EMIT L2A RFL NetCDF-4: the swath is the transpose of ``reflectance`` (downtrack = map
    columns, crosstrack = map rows), and a GLT places it back on a map grid ``border`` pixels larger
    on each side (GLT 0 there)."""
    refl = np.asarray(reflectance, dtype=np.float32)
    n, rows, cols = refl.shape
    swath = refl.transpose(2, 1, 0).copy()  # (downtrack=cols, crosstrack=rows, bands)
    swath[0, 0, :] = -9999.0  # one fill pixel in the swath
    h, w = rows + 2 * border, cols + 2 * border
    glt_x = np.zeros((h, w), np.int32)
    glt_y = np.zeros((h, w), np.int32)
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    glt_x[border:border + rows, border:border + cols] = rr + 1  # crosstrack index
    glt_y[border:border + rows, border:border + cols] = cc + 1  # downtrack index
    good = np.ones(n, np.uint8)
    good[list(bad)] = 0
    with h5py.File(path, "w") as f:
        dims = {}
        for name, size in (("downtrack", swath.shape[0]), ("crosstrack", swath.shape[1]), ("bands", n),
                           ("ortho_y", h), ("ortho_x", w)):
            d = f.create_dataset(name, data=np.arange(size, dtype=np.float32))
            d.make_scale(name)
            dims[name] = d
        r = f.create_dataset("reflectance", data=swath, fillvalue=-9999.0)
        r.attrs["_FillValue"] = np.float32(-9999.0)
        r.attrs["units"] = np.bytes_("unitless")
        for i, dname in enumerate(("downtrack", "crosstrack", "bands")):
            r.dims[i].attach_scale(dims[dname])
        sbp = f.create_group("sensor_band_parameters")
        sbp.create_dataset("wavelengths", data=np.asarray(wavelengths, np.float32))
        sbp.create_dataset("fwhm", data=np.full(n, 8.5, np.float32))
        sbp.create_dataset("good_wavelengths", data=good)
        loc = f.create_group("location")
        for name, arr in (("glt_x", glt_x), ("glt_y", glt_y)):
            g = loc.create_dataset(name, data=arr)
            g.dims[0].attach_scale(dims["ortho_y"])
            g.dims[1].attach_scale(dims["ortho_x"])
        f.attrs["geotransform"] = np.asarray(geotransform, np.float64)
        f.attrs["spatial_ref"] = np.bytes_(CRS.from_epsg(4326).to_wkt())
        f.attrs["title"] = np.bytes_("EMIT L2A Estimated Surface Reflectance 60 m")
    return str(path)


# ------------------------------------------------------------------------------------------------
# Sentinel-2 L2A SAFE
# ------------------------------------------------------------------------------------------------

S2_SAFE = "S2B_MSIL2A_20230823T095559_N0509_R122_T33UUP_20230823T124759.SAFE"
S2_GRANULE = "L2A_T33UUP_A033753_20230823T095553"
S2_STEM = "T33UUP_20230823T095559"
_S2_IDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
_S2_CENTRES = (442.3, 492.3, 559.0, 665.0, 703.8, 739.1, 779.7, 833.0, 864.0, 943.2, 1376.9, 1610.4, 2185.7)


def _jp2(path, dn, transform, crs):
    tmp = path + ".tmp.tif"
    with rasterio.open(tmp, "w", driver="GTiff", width=dn.shape[1], height=dn.shape[0], count=1, dtype="uint16",
                       transform=transform, crs=crs) as ds:
        ds.write(dn[None])
    rasterio.shutil.copy(tmp, path, driver="JP2OpenJPEG", QUALITY="100", REVERSIBLE="YES", RESOLUTIONS="1")
    os.remove(tmp)
    for extra in (path + ".aux.xml",):
        if os.path.exists(extra):
            os.remove(extra)


def s2_metadata(baseline="05.09", offsets=True, image_files=()):
    offs = "\n".join(f'        <BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>' for i in range(13))
    offs = f"      <BOA_ADD_OFFSET_VALUES_LIST>\n{offs}\n      </BOA_ADD_OFFSET_VALUES_LIST>" if offsets else ""
    from hsi_blind_fusion.core.sensor_bands import SENTINEL2_BANDS

    fwhm = {("B0" + b.name[1:]) if len(b.name) == 2 else b.name: b.fwhm_nm for b in SENTINEL2_BANDS}

    def response(b, c):  # a Gaussian of the band's FWHM, tabulated at 1 nm from MIN as the product does
        x = np.arange(round(c - fwhm[b]), round(c + fwhm[b]) + 1)
        return x[0], " ".join(f"{v:.5f}" for v in np.exp(-4 * np.log(2) * (x - c) ** 2 / fwhm[b] ** 2))

    spec = "\n".join(
        f'        <Spectral_Information bandId="{i}" physicalBand="{b if b == "B8A" else "B" + b[1:].lstrip("0")}">\n'
        f"          <RESOLUTION>10</RESOLUTION>\n"
        f'          <Wavelength><MIN unit="nm">{response(b, c)[0]:.0f}</MIN><MAX unit="nm">{c + fwhm[b]:.0f}</MAX>'
        f'<CENTRAL unit="nm">{c}</CENTRAL></Wavelength>\n'
        f'          <Spectral_Response><STEP unit="nm">1</STEP><VALUES>{response(b, c)[1]}</VALUES>'
        f"</Spectral_Response>\n"
        f"        </Spectral_Information>" for i, (b, c) in enumerate(zip(_S2_IDS, _S2_CENTRES)))
    files = "\n".join(f"            <IMAGE_FILE>{f}</IMAGE_FILE>" for f in image_files)
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>2023-08-23T09:55:59.024Z</PRODUCT_START_TIME>
      <PRODUCT_URI>{S2_SAFE}</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <Datatake datatakeIdentifier="GS2B_20230823T095559_033753_N05.09">
        <SPACECRAFT_NAME>Sentinel-2B</SPACECRAFT_NAME>
        <DATATAKE_SENSING_START>2023-08-23T09:55:59.024Z</DATATAKE_SENSING_START>
      </Datatake>
      <Query_Options completeSingleTile="true"><PRODUCT_FORMAT>SAFE_COMPACT</PRODUCT_FORMAT></Query_Options>
      <Product_Organisation>
        <Granule_List>
          <Granule datastripIdentifier="S2B_OPER_MSI_L2A_DS_2BPS_20230823T124759_S20230823T095553_N05.09" granuleIdentifier="S2B_OPER_MSI_L2A_TL_2BPS_20230823T124759_A033753_T33UUP_N05.09" imageFormat="JPEG2000">
{files}
          </Granule>
        </Granule_List>
      </Product_Organisation>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>
      <Special_Values><SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX></Special_Values>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
        <AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>
        <WVP_QUANTIFICATION_VALUE unit="cm">1000.0</WVP_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
{offs}
      <Spectral_Information_List>
{spec}
      </Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-2A_User_Product>
"""


def s2_tile_metadata(epsg, ulx, uly, size10):
    sizes = "\n".join(f'      <Size resolution="{r}"><NROWS>{size10 * 10 // r}</NROWS><NCOLS>{size10 * 10 // r}</NCOLS></Size>'
                      for r in (10, 20, 60))
    pos = "\n".join(f'      <Geoposition resolution="{r}"><ULX>{ulx:.0f}</ULX><ULY>{uly:.0f}</ULY><XDIM>{r}</XDIM>'
                    f"<YDIM>-{r}</YDIM></Geoposition>" for r in (10, 20, 60))
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:Level-2A_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-2A_Tile_Metadata.xsd">
  <n1:General_Info>
    <TILE_ID metadataLevel="Brief">S2B_OPER_MSI_L2A_TL_2BPS_20230823T124759_A033753_T33UUP_N05.09</TILE_ID>
  </n1:General_Info>
  <n1:Geometric_Info>
    <Tile_Geocoding metadataLevel="Brief">
      <HORIZONTAL_CS_NAME>WGS84 / UTM zone {epsg - 32600}N</HORIZONTAL_CS_NAME>
      <HORIZONTAL_CS_CODE>EPSG:{epsg}</HORIZONTAL_CS_CODE>
{sizes}
{pos}
    </Tile_Geocoding>
  </n1:Geometric_Info>
</n1:Level-2A_Tile_ID>
"""


def write_safe(folder, msi10, ulx, uly, epsg=32633, msi20=None, baseline="05.09", offsets=True, outside=None):
    """A Sentinel-2 L2A SAFE holding the 10 m bands ``msi10`` (B02, B03, B04, B08 reflectance, 4 x H x W)
    and, if given, the 20 m bands ``msi20`` (B05, B06, B07, B8A, B11, B12, 6 x H/2 x W/2), as
    JPEG2000 DN = reflectance * 10000 + 1000 (the offset of baseline >= 04.00), DN 0 (nodata) where
    the 10 m mask ``outside`` is True. Returns the SAFE path."""
    safe = os.path.join(str(folder), S2_SAFE)
    gran = os.path.join(safe, "GRANULE", S2_GRANULE)
    crs = CRS.from_epsg(epsg)
    add = 1000 if offsets else 0
    files = []

    def put(res, band, refl):
        d = os.path.join(gran, "IMG_DATA", f"R{res}m")
        os.makedirs(d, exist_ok=True)
        dn = np.clip(np.round(np.asarray(refl) * 10000 + add), 1, 65535).astype(np.uint16)
        if outside is not None:
            step = res // 10
            dn[np.asarray(outside)[::step, ::step]] = 0
        rel = f"GRANULE/{S2_GRANULE}/IMG_DATA/R{res}m/{S2_STEM}_{band}_{res}m"
        _jp2(os.path.join(safe, rel + ".jp2"), dn, Affine(res, 0, ulx, 0, -res, uly), crs)
        files.append(rel)

    for band, refl in zip(("B02", "B03", "B04", "B08"), msi10):
        put(10, band, refl)
    if msi20 is not None:
        for band, refl in zip(("B05", "B06", "B07", "B8A", "B11", "B12"), msi20):
            put(20, band, refl)
    os.makedirs(os.path.join(gran, "QI_DATA"), exist_ok=True)
    with open(os.path.join(safe, "MTD_MSIL2A.xml"), "w") as f:
        f.write(s2_metadata(baseline, offsets, files))
    with open(os.path.join(gran, "MTD_TL.xml"), "w") as f:
        f.write(s2_tile_metadata(epsg, ulx, uly, np.asarray(msi10).shape[1]))
    return safe
