"""Shared base of the ``hsifusion`` algorithms: typed parameter helpers, dependency checks with the
exact install command for the platform, progress/cancel bridging to the core, error translation."""
import importlib
import importlib.util
import os
import re
import sys
import traceback
import warnings

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ICON = os.path.join(PLUGIN_DIR, "icon.svg")
HELP_URL = "https://github.com/hsi-blind-fusion/hsi_blind_fusion"
TORCH_VERSION = "2.13.0"
DEVICES = ["auto", "cpu", "cuda"]
#: option keys of MSI_SENSOR / HSI_SENSOR (the tables are in core/sensor_presets.py, which imports numpy).
MSI_SENSORS = ["auto", "none", "sentinel2_10m", "sentinel2_all", "landsat_oli", "rgb"]
HSI_SENSORS = ["auto", "none", "enmap", "prisma", "hyperion"]
MSI_SENSOR_HELP = (
    "Gaussian starting responses from the published band centres and widths of a multispectral sensor, used when no "
    "response CSV (SRF) or degradation file is given; the estimation refines them. "
    "auto: detected from the MSI's wavelength metadata (band count and centres), else Gaussians of 40 nm FWHM at the "
    "MSI's band centres; with no wavelengths the response is estimated from the data alone. none: no preset. "
    "sentinel2_10m: Sentinel-2A/2B MSI B2, B3, B4, B8 (in this order). sentinel2_all: all 13 Sentinel-2 bands "
    "(or 12 without B10, as in L2A products). landsat_oli: Landsat 8/9 OLI B1-B7 (or B1-B7 and B9). rgb: a generic "
    "RGB camera, bands red, green, blue. Needs the HSI's wavelengths (from the raster or HSI_SENSOR).")
HSI_SENSOR_HELP = (
    "Nominal band centres of a hyperspectral sensor, used only when the HSI raster carries no wavelengths. "
    "auto: chosen by band count (EnMAP 224, PRISMA 239, Hyperion 242 bands). none: no wavelengths. "
    "enmap, prisma, hyperion: that sensor (the band count must match). The fused image gets these wavelengths.")


# ---------------------------------------------------------------------------------------------
# Dependencies
# ---------------------------------------------------------------------------------------------

def missing_dependencies(modules):
    """The modules among ``modules`` that cannot be imported (looked up, not imported)."""
    missing = []
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            missing.append(name)
    return missing


def pip_names(modules):
    names = []
    for m in modules:
        names.append({"torch": f"torch=={TORCH_VERSION}", "onnxruntime": "onnxruntime"}.get(m, m))
    return names


def install_command(modules, platform=None):
    """The exact command that installs ``modules`` into the Python QGIS runs on ``platform``."""
    platform = platform or sys.platform
    mods = list(modules)
    torch = "torch" in mods
    others = [p for p in pip_names(mods) if not p.startswith("torch")]
    if platform.startswith("win"):
        py = "python -m pip install"
        prefix = "In the OSGeo4W Shell (Start menu > QGIS > OSGeo4W Shell): "
    elif platform == "darwin":
        py = "/Applications/QGIS.app/Contents/MacOS/bin/python3 -m pip install --user"
        prefix = "In a Terminal: "
    else:
        py = "python3 -m pip install --user"
        prefix = "In a terminal: "
    cmds = []
    if torch:
        if platform == "darwin":
            cmds.append(f"{py} torch=={TORCH_VERSION}")
        else:
            # The CPU wheels: an unpinned torch from PyPI on Linux pulls gigabytes of CUDA libraries.
            cmds.append(f"{py} torch=={TORCH_VERSION} --index-url https://download.pytorch.org/whl/cpu")
    if others:
        cmds.append(f"{py} {' '.join(others)}")
    return prefix + " && ".join(cmds) + " , then restart QGIS."


def dependency_message(modules, platform=None):
    missing = missing_dependencies(modules)
    if not missing:
        return None
    what = ", ".join(missing)
    return (f"The Python package(s) {what} needed by this algorithm are not installed in QGIS's Python. "
            + install_command(missing, platform))


# ---------------------------------------------------------------------------------------------
# Base algorithm
# ---------------------------------------------------------------------------------------------

class HsiFusionAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set ``NAME``, ``DISPLAY``, ``REQUIRES`` and implement
    ``defineParameters`` / ``run``."""

    NAME = ""
    DISPLAY = ""
    GROUP = "Fusion"
    GROUP_ID = "fusion"
    REQUIRES = ("torch", "rasterio", "scipy")
    HELP = ""

    # -- identity ---------------------------------------------------------------------------
    def tr(self, text):
        return QCoreApplication.translate("HsiBlindFusion", text)

    def name(self):
        return self.NAME

    def displayName(self):  # noqa: N802
        return self.tr(self.DISPLAY)

    def group(self):
        return self.tr(self.GROUP)

    def groupId(self):  # noqa: N802
        return self.GROUP_ID

    def shortHelpString(self):  # noqa: N802
        return self.tr(self.HELP)

    def helpUrl(self):  # noqa: N802
        """The README section of this algorithm (GitHub's anchor of its heading)."""
        heading = f"{self.DISPLAY} (hsifusion:{self.NAME})".lower()
        return HELP_URL + "#" + re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")

    def icon(self):
        return QIcon(ICON)

    def svgIconPath(self):  # noqa: N802
        return ICON

    def createInstance(self):  # noqa: N802
        return type(self)()

    def canExecute(self):  # noqa: N802
        msg = dependency_message(self.REQUIRES)
        if msg:
            return False, self.tr(msg)
        return True, ""

    # -- parameter helpers --------------------------------------------------------------------
    def _add(self, param, help_text="", advanced=False):
        if help_text:
            param.setHelp(self.tr(help_text))
        if advanced:
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(param)
        return param

    def add_raster(self, name, desc, help_text="", optional=False):
        return self._add(QgsProcessingParameterRasterLayer(name, self.tr(desc), optional=optional), help_text)

    def add_int(self, name, desc, default, minimum=None, maximum=None, help_text="", optional=False, advanced=False):
        return self._add_number(QgsProcessingParameterNumber.Integer, name, desc, default, minimum, maximum,
                                help_text, optional, advanced)

    def add_double(self, name, desc, default, minimum=None, maximum=None, help_text="", optional=False,
                   advanced=False):
        return self._add_number(QgsProcessingParameterNumber.Double, name, desc, default, minimum, maximum,
                                help_text, optional, advanced)

    def _add_number(self, kind, name, desc, default, minimum, maximum, help_text, optional, advanced):
        p = QgsProcessingParameterNumber(name, self.tr(desc), kind, defaultValue=default, optional=optional)
        if minimum is not None:
            p.setMinimum(minimum)
        if maximum is not None:
            p.setMaximum(maximum)
        return self._add(p, help_text, advanced)

    def add_enum(self, name, desc, options, default, help_text="", advanced=False):
        """An enum whose values are the option strings (``DEVICE=cpu`` in qgis_process and models)."""
        p = QgsProcessingParameterEnum(name, self.tr(desc), options=options, defaultValue=default)
        p.setUsesStaticStrings(True)
        return self._add(p, help_text, advanced)

    def add_bool(self, name, desc, default=False, help_text="", advanced=False):
        return self._add(QgsProcessingParameterBoolean(name, self.tr(desc), defaultValue=default), help_text, advanced)

    def add_file(self, name, desc, file_filter, help_text="", optional=True):
        p = QgsProcessingParameterFile(name, self.tr(desc), behavior=QgsProcessingParameterFile.File,
                                       fileFilter=file_filter, optional=optional)
        return self._add(p, help_text)

    def add_raster_dest(self, name, desc, help_text="", optional=False):
        p = QgsProcessingParameterRasterDestination(name, self.tr(desc), optional=optional,
                                                    createByDefault=not optional)
        return self._add(p, help_text)

    def add_file_dest(self, name, desc, file_filter, help_text="", optional=True):
        p = QgsProcessingParameterFileDestination(name, self.tr(desc), fileFilter=file_filter,
                                                  optional=optional, createByDefault=not optional)
        return self._add(p, help_text)

    def add_number_output(self, name, desc):
        self.addOutput(QgsProcessingOutputNumber(name, self.tr(desc)))

    def add_device_param(self):
        self.add_enum("DEVICE", "Compute device", DEVICES, "auto",
                      "auto: a CUDA GPU when torch sees one, else the CPU. cuda fails clearly without a GPU.",
                      advanced=True)

    def add_seed_param(self):
        self.add_int("SEED", "Random seed", 0, 0, None,
                     "Seed of every random choice; the same seed gives the same result on the CPU.", advanced=True)

    def add_sensor_params(self):
        """MSI_SENSOR / HSI_SENSOR: preset starting responses and HSI wavelengths (core/sensor_presets.py)."""
        self.add_enum("MSI_SENSOR", "MSI sensor (starting spectral response)", MSI_SENSORS, "auto", MSI_SENSOR_HELP)
        self.add_enum("HSI_SENSOR", "HSI sensor (wavelengths when the raster has none)", HSI_SENSORS, "auto",
                      HSI_SENSOR_HELP, advanced=True)

    def apply_sensor_presets(self, parameters, context, feedback, inputs):
        """Apply MSI_SENSOR / HSI_SENSOR to the loaded inputs (starting response, HSI wavelengths); returns
        where the starting response comes from, for the log and the report."""
        from ..core import sensor_presets

        msi_sensor = self.parameterAsEnumString(parameters, "MSI_SENSOR", context) or "auto"
        hsi_sensor = self.parameterAsEnumString(parameters, "HSI_SENSOR", context) or "auto"
        res = sensor_presets.apply_to_inputs(inputs, msi_sensor, hsi_sensor)
        for m in res.messages:
            feedback.pushInfo(self.tr(m))
        return f"{res.source} (MSI_SENSOR={msi_sensor}, HSI_SENSOR={hsi_sensor})"

    # -- parameter readers --------------------------------------------------------------------
    def raster_path(self, parameters, name, context):
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            raise QgsProcessingException(self.tr(f"{name}: the raster could not be loaded"))
        if layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr(
                f"{name}: only file rasters read by GDAL are supported (this one comes from '{layer.providerType()}'); "
                "save it as a GeoTIFF first"))
        return layer.source().split("|")[0]

    def optional_file(self, parameters, name, context):
        if parameters.get(name) in (None, ""):
            return None
        path = self.parameterAsFile(parameters, name, context)
        return path or None

    def optional_output(self, parameters, name, context):
        if parameters.get(name) in (None, ""):
            return None
        path = self.parameterAsFileOutput(parameters, name, context)
        return path or None

    def device(self, parameters, context):
        return self.parameterAsEnumString(parameters, "DEVICE", context) or "auto"

    # -- running --------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        ok, msg = self.canExecute()
        if not ok:
            raise QgsProcessingException(msg)
        from ..core.errors import Cancelled, FusionError

        self._staged = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    return self.process(parameters, context, feedback)
                finally:
                    self.discard_outputs()  # a no-op after commit_outputs()
                    self._push_caught(feedback, caught)
        except Cancelled:
            raise QgsProcessingException(self.tr("The run was cancelled; no output was written."))
        except QgsProcessingException:
            raise
        except FusionError as exc:
            raise QgsProcessingException(str(exc))
        except MemoryError:
            raise QgsProcessingException(self.tr(
                "Not enough memory for these images: crop them (Raster > Extraction > Clip) or use fewer bands."))
        except OSError as exc:
            raise QgsProcessingException(self.tr(f"Could not read or write a file: {exc}"))
        except Exception as exc:  # noqa: BLE001 - last resort: keep the traceback in the log for bug reports
            feedback.pushDebugInfo(traceback.format_exc())
            raise QgsProcessingException(self.tr(f"Unexpected error ({type(exc).__name__}): {exc}"))

    def process(self, parameters, context, feedback):
        raise NotImplementedError

    # -- outputs: checked before the heavy work, written to temporary files, renamed at the end ----
    def check_outputs(self, outputs, inputs=()):
        """``outputs``: ``[(path, extensions, label), ...]`` (None paths skipped). Refuses unknown
        extensions, missing or unwritable folders and outputs that are inputs, before any heavy work."""
        from ..core import raster_io

        finals = []
        for path, exts, label in outputs:
            if not path:
                continue
            raster_io.check_output_path(path, exts, inputs, label)
            for other in finals:
                if raster_io._same_file(path, other):
                    raise QgsProcessingException(self.tr(
                        f"two outputs of this run have the same file name {path}; give each its own"))
            finals.append(path)

    def stage(self, final):
        """A temporary path next to ``final`` to write an output to; renamed by ``commit_outputs``."""
        from ..core import raster_io

        if not final:
            return None
        tmp = raster_io.staging_path(final)
        self._staged.append((tmp, final))
        return tmp

    def commit_outputs(self, feedback=None):
        """Rename every staged output onto its destination (after a last cancel check)."""
        if feedback is not None and feedback.isCanceled():
            self.raise_cancelled()
        staged, self._staged = list(self._staged), []
        for tmp, final in staged:
            os.replace(tmp, final)

    def discard_outputs(self):
        staged, self._staged = list(getattr(self, "_staged", [])), []
        for tmp, _ in staged:
            try:
                os.remove(tmp)
            except OSError:
                pass

    def _push_caught(self, feedback, caught):
        """Warnings the core raised through ``warnings`` (e.g. a model file that could not be loaded)
        go to the log: the plugin's own as warnings, the rest (libraries) as debug information."""
        seen = set()
        for w in caught:
            text = str(w.message)
            if text in seen:
                continue
            seen.add(text)
            own = os.path.abspath(str(w.filename)).startswith(PLUGIN_DIR) and issubclass(w.category, UserWarning)
            if own:
                self.push_warnings(feedback, [text])
            else:
                feedback.pushDebugInfo(f"{w.category.__name__}: {text}")

    @staticmethod
    def raise_cancelled():
        from ..core.errors import Cancelled  # lazily: the core imports torch

        raise Cancelled()

    @staticmethod
    def push_warnings(feedback, warnings):
        for w in warnings:
            feedback.pushWarning(w) if hasattr(feedback, "pushWarning") else feedback.reportError(w, False)


class CoreProgress:
    """Bridges the core's ``progress(fraction, message)`` / ``cancel()`` to a (multi-step) feedback,
    spreading the core's fraction over ``steps`` steps starting at ``first``."""

    def __init__(self, multi, first, steps):
        self.multi, self.first, self.steps = multi, first, steps
        self._last_message = None

    def progress(self, fraction, message=""):
        f = min(max(float(fraction), 0.0), 1.0) * self.steps
        step = min(self.first + int(f), self.first + self.steps - 1)
        self.multi.setCurrentStep(step)
        self.multi.setProgress(100.0 * (f - (step - self.first)))
        if message and message != self._last_message:
            self._last_message = message
            self.multi.setProgressText(message)

    def cancel(self):
        return self.multi.isCanceled()
