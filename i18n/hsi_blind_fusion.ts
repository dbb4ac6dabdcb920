<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1">
<context>
    <name>ColourCompositePostProcessor</name>
    <message>
        <location filename="../algorithms/display.py" line="89"/>
        <source>{}: shown in {} (bands {}, {}, {})</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>HsiFusionAlgorithm</name>
    <message>
        <location filename="../algorithms/base.py" line="82"/>
        <source>In the OSGeo4W Shell (Start menu &gt; QGIS &gt; OSGeo4W Shell): </source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="86"/>
        <source>In a Terminal: </source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="89"/>
        <source>In a terminal: </source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="99"/>
        <source>{} , then restart QGIS.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="110"/>
        <source>The Python package(s) {} needed by this algorithm are not installed in QGIS&apos;s Python. {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="340"/>
        <source>{}: the raster could not be loaded</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="342"/>
        <source>{}: only file rasters read by GDAL are supported (this one comes from &apos;{}&apos;); save it as a GeoTIFF first</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="366"/>
        <source>Not enough memory for these images: crop them (Raster &gt; Extraction &gt; Clip) or use fewer bands.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="369"/>
        <source>Could not read or write a file: {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="372"/>
        <source>Unexpected error ({}): {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="6"/>
        <source>Blind HSI-MSI fusion</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="7"/>
        <source>Fusion</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="8"/>
        <source>Sharpens a hyperspectral image with a multispectral image of the same place; the blur and the spectral response are estimated from the data.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="10"/>
        <source>fusion</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="11"/>
        <source>pansharpening</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="12"/>
        <source>hyperspectral</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="13"/>
        <source>multispectral</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="14"/>
        <source>super-resolution</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="15"/>
        <source>sharpening</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="16"/>
        <source>EnMAP</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="17"/>
        <source>PRISMA</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="18"/>
        <source>Hyperion</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="19"/>
        <source>Sentinel-2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="20"/>
        <source>Landsat</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="21"/>
        <source>blind</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="22"/>
        <source>deep image prior</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="23"/>
        <source>Low-resolution hyperspectral image (HSI)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="24"/>
        <source>The hyperspectral raster: many bands, coarse pixels.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="25"/>
        <source>High-resolution multispectral image (MSI)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="26"/>
        <source>The multispectral raster: fewer bands than the HSI, fine pixels. The output uses its grid.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="29"/>
        <source>Scale factor (0 = from pixel sizes)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="30"/>
        <source>Ratio of HSI to MSI pixel size (an integer). 0 derives it from the pixel sizes; a non-zero value must agree with them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="31"/>
        <source>Starting spectral response (CSV)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="32"/>
        <source>Optional CSV with the starting spectral response: either a table with one row per MSI band and one column per HSI band (a header row and a label column are allowed), or response curves: first column wavelength in nm, then one column per MSI band (the HSI must then carry wavelengths). The estimation refines it. Without it, MSI_SENSOR gives the starting response (or none: estimated from the data alone).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="33"/>
        <source>MSI sensor (starting spectral response)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="35"/>
        <source>HSI sensor (wavelengths when the raster has none)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="36"/>
        <source>Nominal band centres of a hyperspectral sensor, used only when the HSI raster carries no wavelengths. auto: chosen by band count (enmap 224, prisma 239, hyperion 242 bands). none: no wavelengths. enmap: EnMAP HSI (224 bands, 420-2450 nm). prisma: PRISMA (239 bands, 400-2505 nm). hyperion: EO-1 Hyperion (242 bands, 357-2576 nm). The band count must match. The fused image gets these wavelengths.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="37"/>
        <source>Starting degradation (JSON from &apos;Estimate sensor degradation&apos;)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="38"/>
        <source>Optional kernel and response estimated earlier; the fusion starts from them.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="41"/>
        <source>Outer iterations</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="43"/>
        <source>Inner iterations</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="44"/>
        <source>Gradient steps per outer iteration.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="45"/>
        <source>Tile size (MSI pixels, 0 = automatic)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="46"/>
        <source>Side, in MSI pixels, of the tiles the fused image is computed and written in. 0 picks it from the available memory. Tiles are computed with a margin, so the result does not depend on it (no seams); smaller tiles use less memory, larger ones are slightly faster.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="47"/>
        <source>MSI denoising strength (0 = off)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="65"/>
        <source>Compute device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="67"/>
        <source>Random seed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="68"/>
        <source>Seed of every random choice; the same seed gives the same result on the CPU.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="71"/>
        <source>Fused hyperspectral image</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="73"/>
        <source>Estimated degradation (JSON)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="74"/>
        <source>Optional: the estimated kernel and response, reusable as DEGRADATION.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="75"/>
        <source>Report (HTML)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="76"/>
        <source>Optional: an HTML page (figures embedded) with the kernel and responses beside their starting points, colour previews, per-band residuals, losses, settings, timings and device. QGIS opens it in the results viewer.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="77"/>
        <source>Estimate sensor degradation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="78"/>
        <source>Estimates the blur kernel of a hyperspectral sensor and the spectral response of a multispectral one from an image pair, without fusing.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="79"/>
        <source>Estimates, from a low-resolution hyperspectral image (HSI) and a high-resolution multispectral image (MSI) of the same scene, the blur kernel of the HSI sensor (relative to the MSI grid) and the spectral response of the MSI bands, without fusing. Fast (seconds): useful to check a sensor pair or to reuse the estimate in several fusions.

Inputs
- HSI and MSI rasters, with the same requirements as &apos;Blind HSI-MSI fusion&apos; (same CRS, integer pixel-size ratio, aligned grids).
- Optional starting response: a CSV (SRF) or a sensor preset (MSI_SENSOR).

Outputs
- OUTPUT: a JSON file with scale, kernel, srf (rows = MSI bands, columns = HSI bands, rows summing to 1), msi_gain and the wavelengths; &apos;Blind HSI-MSI fusion&apos; takes it as DEGRADATION (also in graphical models).
- REPORT (optional): an HTML page with the kernel and responses beside their starting points, colour previews and the per-band residuals of the estimate.

Tips
- Compare the estimated responses with the sensor&apos;s published ones in the report: a response far from them often means misregistered inputs.

Limits
- One kernel and one response for the whole scene.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="80"/>
        <source>blur</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="81"/>
        <source>kernel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="82"/>
        <source>PSF</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="83"/>
        <source>spectral response</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="84"/>
        <source>SRF</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="85"/>
        <source>calibration</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="86"/>
        <source>The hyperspectral raster.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="87"/>
        <source>The multispectral raster.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="88"/>
        <source>Kernel, response, scale and wavelengths as JSON.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="89"/>
        <source>Simulate sensor observations</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="90"/>
        <source>Tools</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="91"/>
        <source>Simulates a low-resolution hyperspectral and a high-resolution multispectral image from a high-resolution hyperspectral raster (a pair with a known truth).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="92"/>
        <source>Simulates the two observations that &apos;Blind HSI-MSI fusion&apos; takes from a high-resolution hyperspectral raster, for tutorials and benchmarks with a known truth.

Inputs
- INPUT: a high-resolution hyperspectral raster (the truth).
- The blur: a Gaussian kernel (KERNEL_SIZE, KERNEL_SIGMA) or a kernel file (.npy, .csv, .txt).
- The spectral response: a CSV (table MSI x HSI bands, or wavelength + one column per MSI band); without it, Gaussian Sentinel-2 bands within the input&apos;s wavelengths.

Outputs
- OUTPUT_HSI: the input blurred, every SCALE-th pixel kept (starting at SCALE // 2), plus noise; its pixels cover exactly SCALE x SCALE input pixels (same origin, SCALE times the pixel size); the input&apos;s wavelengths are copied.
- OUTPUT_MSI: the response applied to the input, plus noise, on the input grid (cropped to a multiple of SCALE).

Tips
- Score a fusion of the two outputs against INPUT with &apos;Fusion quality&apos;.

Limits
- White Gaussian noise only (SNR_DB per band); no striping, smile or misregistration.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="93"/>
        <source>simulation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="94"/>
        <source>degradation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="95"/>
        <source>synthetic</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="96"/>
        <source>benchmark</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="97"/>
        <source>High-resolution hyperspectral image</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="98"/>
        <source>The truth to degrade.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="99"/>
        <source>Gaussian kernel size (odd)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="100"/>
        <source>Width of the Gaussian blur kernel in pixels.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="101"/>
        <source>Gaussian kernel sigma (pixels)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="102"/>
        <source>Standard deviation of the Gaussian blur in input pixels.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="103"/>
        <source>Kernel file (.npy, .csv, .txt)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="104"/>
        <source>Optional: a 2-D kernel replacing the Gaussian.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="105"/>
        <source>Spectral response (CSV)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="106"/>
        <source>Response table (MSI bands x HSI bands) or curves (wavelength + one column per MSI band). Empty: Gaussian Sentinel-2 bands inside the input&apos;s wavelength range.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="107"/>
        <source>Scale factor</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="108"/>
        <source>HSI pixel size / MSI pixel size.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="109"/>
        <source>Signal-to-noise ratio (dB, 0 = no noise)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="110"/>
        <source>White Gaussian noise at this SNR per band; 0 adds none.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="111"/>
        <source>Simulated LR hyperspectral image</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="113"/>
        <source>Simulated HR multispectral image</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="115"/>
        <source>Fusion quality</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="118"/>
        <source>quality</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="119"/>
        <source>metrics</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="120"/>
        <source>PSNR</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="121"/>
        <source>SAM</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="122"/>
        <source>SSIM</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="123"/>
        <source>ERGAS</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="124"/>
        <source>RMSE</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="128"/>
        <source>accuracy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="129"/>
        <source>assessment</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="132"/>
        <source>Reference (truth) image</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="130"/>
        <source>Fused image</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="134"/>
        <source>Scale factor (for ERGAS; 0 = skip ERGAS)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="140"/>
        <source>Metrics (CSV)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="141"/>
        <source>Optional: the metrics as CSV.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="142"/>
        <source>PSNR (dB)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="143"/>
        <source>SAM (degrees)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="66"/>
        <source>auto: a CUDA GPU when torch sees one, else the CPU. cuda fails clearly without a GPU. With several GPUs, cuda:0, cuda:1, ... choose one.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="69"/>
        <source>Cloud-Optimized GeoTIFF</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="70"/>
        <source>Write OUTPUT as a Cloud-Optimized GeoTIFF (tiles and overviews laid out for reading over HTTP); needs a .tif output. Without it the GeoTIFF is tiled, with internal overviews when a side exceeds 256 pixels.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="72"/>
        <source>Float32 raster on the MSI grid, one band per HSI band: GeoTIFF (.tif) or ENVI (.bsq, .bil, .bip).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="112"/>
        <source>Float32 raster (GeoTIFF or ENVI): SCALE times coarser, same origin, the input&apos;s bands and wavelengths.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="114"/>
        <source>Float32 raster (GeoTIFF or ENVI) on the input grid, one band per response row.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="116"/>
        <source>Scores a fused hyperspectral image against a reference (RMSE, PSNR, SAM, SSIM, ERGAS) or, without one, against the HSI and MSI it was fused from (QNR, D_lambda, D_s, residuals).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="117"/>
        <source>Scores a fused hyperspectral image: against a reference of the same grid and bands when you have one, and without a reference, against the HSI and MSI it was fused from.

Inputs
- FUSED: the image to score.
- REFERENCE (optional): the true high-resolution hyperspectral image, same size and bands as FUSED.
- HSI and MSI (optional, together): the inputs of the fusion; FUSED must lie on the MSI grid of their common area (as &apos;Blind HSI-MSI fusion&apos; writes it).
- DEGRADATION (optional, with HSI and MSI): the kernel and response JSON of the fusion; without it they are estimated from the HSI and MSI (seconds).
- SCALE: the HSI/MSI pixel-size ratio, for ERGAS (0 skips ERGAS); with HSI and MSI it comes from the pixel sizes.

Outputs
- With REFERENCE: RMSE (image units), PSNR (dB, peak = reference maximum), SAM (mean spectral angle, degrees), SSIM (mean over bands), ERGAS.
- With HSI and MSI: QNR = (1 - D_lambda)(1 - D_s) (Alparone et al. 2008; 1 is ideal), D_lambda (spectral distortion: how the similarities between fused bands differ from those between HSI bands) and D_s (spatial distortion: how the similarities between each fused band and each MSI band differ from those at the HSI&apos;s resolution), on 32 x 32-pixel blocks; HSI_RESIDUAL and MSI_RESIDUAL: the fused image re-degraded with the kernel and response against each input (mean relative RMSE over bands, %).
- Every metric is a numeric output (empty when not computed), usable in graphical models; OUTPUT_CSV (optional): the metrics as CSV.

Tips
- Pixels that are nodata in any raster are left out of every metric (SSIM and QNR: windows and blocks that touch one).
- Compare QNR between fusions of the same pair (e.g. against bicubic upsampling): its absolute value depends on the scene.

Limits
- QNR rewards consistency with the inputs, not closeness to the truth; with a reference, prefer the reference metrics.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="125"/>
        <source>QNR</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="126"/>
        <source>no reference</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="127"/>
        <source>distortion</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="131"/>
        <source>The image to score (on the reference&apos;s grid, or on the MSI grid).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="133"/>
        <source>Optional: the true high-resolution hyperspectral image (RMSE, PSNR, SAM, SSIM, ERGAS).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="135"/>
        <source>HSI/MSI pixel-size ratio of the fusion; ERGAS is not computed when 0 (with HSI and MSI it comes from their pixel sizes).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="136"/>
        <source>Optional, with MSI: the hyperspectral input of the fusion (QNR, D_lambda, D_s, residuals).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="137"/>
        <source>Optional, with HSI: the multispectral input of the fusion.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="138"/>
        <source>Degradation of the fusion (JSON)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="139"/>
        <source>Optional, with HSI and MSI: the kernel and response of the fusion (OUTPUT_DEGRADATION of &apos;Blind HSI-MSI fusion&apos;); estimated from the HSI and MSI when not given.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="144"/>
        <source>QNR (quality with no reference)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="145"/>
        <source>D_lambda (spectral distortion)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="146"/>
        <source>D_s (spatial distortion)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="147"/>
        <source>HSI residual of the re-degraded fused image (%)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="148"/>
        <source>MSI residual of the re-degraded fused image (%)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="9"/>
        <source>Fuses a low-resolution hyperspectral image (HSI) with a high-resolution multispectral image (MSI) of the same scene into a hyperspectral image at the MSI&apos;s resolution. The blur kernel of the HSI (relative to the MSI grid) and the spectral response of the MSI bands are estimated from the two images (blind fusion), then the fused image is reconstructed.

Inputs
- HSI and MSI rasters: any file GDAL reads (GeoTIFF, ENVI, VRT, a file in a zip, an HDF5 or NetCDF subdataset). The HSI&apos;s pixels stay as measured; an MSI in another CRS, on an offset grid or with a non-integer pixel-size ratio is warped once onto the grid aligned with the HSI&apos;s pixels. Only the common area is processed; nodata pixels are left out, HSI bands flagged bad or nodata everywhere are left out and come out as nodata bands.
- Optional starting points: a response CSV (SRF), a sensor preset (MSI_SENSOR, detected automatically from wavelength metadata), or a degradation JSON from &apos;Estimate sensor degradation&apos;.

Outputs
- OUTPUT: float32 raster on the MSI grid, one band per HSI band (HSI band names and wavelengths): a tiled GeoTIFF with internal overviews (.tif; a Cloud-Optimized GeoTIFF with COG) or ENVI with its .hdr header (.bsq, .bil, .bip). Loaded into QGIS in true colour (the bands nearest 640, 550 and 470 nm).
- OUTPUT_DEGRADATION (optional): the estimated kernel and response as JSON.
- REPORT (optional): an HTML page with the kernel and responses beside their starting points, colour previews, quality without a reference (QNR, D_lambda, D_s), per-band consistency residuals, loss curves, settings, timings and the device.

Tips
- Start with fewer outer iterations (e.g. 10) to check the setup, then use the default 40.
- Give MSI_SENSOR (or let &apos;auto&apos; detect it) when the MSI is Sentinel-2, Landsat 8/9 or an RGB camera: the response estimate starts closer to the truth.
- DEVICE=cuda needs an NVIDIA GPU and a CUDA build of torch.
- The same run from a terminal: python -m hsi_blind_fusion fuse --hsi ... --msi ... --output ...

Large scenes
- The fused image is computed tile by tile and written window by window, never held whole in memory; each tile is computed with a margin covering every local step, so tiles meet without seams (identical to an untiled run). TILE_SIZE sets the tile side (0 = from the available memory).

Limits
- The inputs (HSI and MSI of the common area) are held in memory: about 3 times their float32 size.
- One kernel and one response for the whole scene; the inputs must be co-registered and acquired close in time.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="27"/>
        <source>Second, coarser multispectral image (optional)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="28"/>
        <source>Optional: more multispectral bands at a coarser resolution than the MSI, e.g. Sentinel-2&apos;s 20 m bands (B5, B6, B7, B8A, B11, B12) beside its 10 m MSI, or Landsat&apos;s 30 m bands with its 15 m panchromatic band as the MSI. They are sharpened onto the MSI&apos;s grid by a local regression on the MSI&apos;s bands and join them, so their wavelengths (red edge, SWIR) guide the fusion too.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="34"/>
        <source>Starting responses of a multispectral sensor, used when no response CSV (SRF) or degradation file is given; the estimation refines them. Sentinel-2 and Landsat: their published response tables (ESA, USGS) seen through each HSI band (its FWHM when the HSI gives it); the RGB camera: Gaussians of its band centres and widths. auto: detected from the MSI&apos;s wavelength metadata (band count and centres), else Gaussians of 40 nm FWHM at the MSI&apos;s band centres; with no wavelengths the response is estimated from the data alone. none: no preset. sentinel2_10m: Sentinel-2A/2B MSI, 10 m bands (B2, B3, B4, B8). sentinel2_all: Sentinel-2A/2B MSI, all 13 bands (12 without B10, as in L2A). landsat_oli: Landsat 8/9 OLI, reflective bands (B1-B7, or B1-B7 + B9 cirrus). rgb: Generic RGB camera (red, green, blue). Needs the HSI&apos;s wavelengths (from the raster or HSI_SENSOR).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="63"/>
        <source>Grid of the fused image</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="42"/>
        <source>Alternations between the image and the degradation estimates (at most: see STOP_WHEN_CONVERGED).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="61"/>
        <source>Stop when converged</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="62"/>
        <source>Stop the alternation once a share of the HSI&apos;s pixels, held out of the fitting, stops being predicted better (OUTER_ITERATIONS is then a maximum, and the iterate that predicted them best is kept). Off: run every iteration, the paper&apos;s schedule.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/batch_fusion.py" line="34"/>
        <source>Give either a manifest (MANIFEST) or a folder of pairs (FOLDER), not both.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/batch_fusion.py" line="37"/>
        <source>Give a manifest (MANIFEST) or a folder of pairs (FOLDER).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="39"/>
        <source>Blur kernel support (MSI pixels, 0 = from the data)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../algorithms/base.py" line="235"/>
        <source>Incorrect parameter value for {}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="49"/>
        <source>HSI cleaning (stripes, dead and saturated pixels)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="50"/>
        <source>Before the estimate, the HSI&apos;s per-band column and row offsets (stripes of a pushbroom sensor) and isolated dead or saturated values are found by predicting each band from the others, and removed. auto: only stripes about as strong as the noise or stronger, and outliers found in numbers, are removed (a clean HSI is used as it is); on: everything found is removed; off: nothing is looked for. The log and the report say what was found and removed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="59"/>
        <source>MSI sharpness: MTF at Nyquist (1 = as sharp as its pixels)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="60"/>
        <source>The MSI&apos;s own blur, as its sensor&apos;s specification gives it: the contrast kept at the Nyquist frequency (for example about 0.15-0.3 for Sentinel-2&apos;s 10 m bands). The fusion takes its detail from the MSI and cannot tell its blur from the HSI&apos;s, so a blurred MSI gives a blurred result; below 1 the MSI is restored first (a Wiener filter of a Gaussian blur with that MTF, gain bounded). 1: no restoration. A value well below the MSI&apos;s real MTF over-sharpens it (ringing and noise): give the specification&apos;s value, not a guess.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="40"/>
        <source>Side of the square support on which the HSI&apos;s blur kernel is estimated. 0: chosen from the data (it starts at 2 x scale + 1 and grows, up to 7 x scale + 1 and at most 49, while the kernel piles its mass on the support&apos;s border, i.e. while the blur is cut off). A size given here is used as it is (even sizes are rounded up to odd); the log and the report warn when the kernel still touches its border.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="48"/>
        <source>Strength of the non-local means applied to the MSI before it guides the reconstruction (the MSI&apos;s noise would otherwise go into every fused band; its level is estimated from the data). 0 turns it off, e.g. for an MSI that is already denoised; higher values smooth more. Where the MSI is noisy (below 35 dB) and the blur has structure (not Gaussian-like, e.g. motion), the blur kernel and the response are fitted again on the denoised MSI: its noise would otherwise spread the kernel.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="51"/>
        <source>MSI linearization (power-law response per band)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="52"/>
        <source>Two sensors&apos; radiometry can disagree by a curve, not only by a factor (another calibration, another date). auto: a power law per MSI band is found from the pair (blurred to the HSI&apos;s resolution, the MSI band must be a linear combination of the HSI&apos;s bands) and undone where it explains the HSI clearly better than a straight line; the kernel and response are then estimated again. A linear MSI is used as it is. off: the MSI is taken as linear. The log and the report give the exponents found.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="53"/>
        <source>Changed areas (another date, clouds)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="54"/>
        <source>Where the MSI shows something the HSI does not (taken on another date, a cloud, a moved object), the kernel and response would be bent to it and the fused detail there would be wrong. auto: areas that fit the estimated degradation far worse than the rest are left out and the kernel and response estimated again; where that explains the rest clearly better, the areas that still disagree get the upsampled HSI in the output (the log, the report and the degradation file say how much). A matching pair is used as it is. off: the whole pair is taken as one scene.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="55"/>
        <source>Per-band detail (bands the MSI does not see)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="56"/>
        <source>Every HSI band takes its spatial detail from the MSI. A band outside the MSI&apos;s responses (red bands under a blue-only camera, short-wave infrared under a visible and near-infrared MSI) would get detail of another wavelength. auto: the fusion is tested one level down (the HSI degraded once more and predicted from the MSI at the HSI&apos;s resolution) and each band takes the share of the MSI&apos;s detail the test says it carries; bands the MSI explains keep all of it. off: every band takes all of it. The report gives each band&apos;s share.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="57"/>
        <source>Chromatic blur (a kernel per group of bands)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="58"/>
        <source>A spectrometer&apos;s blur often changes with wavelength (wider, or shifted, at one end of the range). auto: the kernel of each of up to 8 groups of neighbouring bands is found as the common kernel shifted and stretched, and used where it explains the HSI clearly better than the common one (the log and the report say which groups); a blur that is the same in every band is left as it is. off: one kernel for all bands.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../build/i18n/tool_specs.py" line="64"/>
        <source>hsi: the grid aligned with the HSI&apos;s pixels (the HSI&apos;s CRS, pixel = HSI pixel / scale), on which the fusion runs; the same as the MSI&apos;s own grid when the MSI&apos;s grid is aligned with the HSI&apos;s already. msi: the MSI&apos;s own grid and CRS (the fused image is warped onto it at the end by an interpolating spline; when the grids only differ by an offset in the same CRS, nothing is resampled: the MSI is read as it is and the estimated blur kernel takes up the offset).</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
