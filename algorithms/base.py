"""Shared base of the ``hsifusion`` algorithms: parameters declared from the tool specifications
(core/workflow/specs.py), dependency checks with the exact install command for the platform, the
workflow's cheap checks before a run (``checkParameterValues``), the bridge from QGIS's feedback to
the workflow's, error translation, and the colour display of raster outputs (``display.py``).

An algorithm is: parameters -> request -> checks -> workflow -> outputs dict. Each subclass names
its tool (``SPEC``) and the Python packages it needs; everything else is here.

Translations: user-facing strings go through :meth:`HsiFusionAlgorithm.tr` (context
``HsiFusionAlgorithm``) with ``{}`` placeholders filled after translation; the tool specifications'
texts are looked up in the same context (``i18n/``, ``make translations``).
"""
import importlib.util
import os
import re
import sys
import traceback

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.workflow.feedback import Feedback
from .compat import FILE_BEHAVIOR_FILE, FLAG_ADVANCED, NUMBER_DOUBLE, NUMBER_INTEGER
from .display import attach_colour_renderer

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ICON = os.path.join(PLUGIN_DIR, "icon.svg")
HELP_URL = "https://github.com/hsi-blind-fusion/hsi_blind_fusion"
TORCH_VERSION = "2.13.0"
#: the translation context of every string of the algorithms (pylupdate5 names it after the class)
TR_CONTEXT = "HsiFusionAlgorithm"
#: pip's name of the modules whose import name differs
#: pip's name of an importable module where the two differ (and the pinned versions)
PIP_NAMES = {"torch": f"torch=={TORCH_VERSION}", "skimage": "scikit-image",
             "distributed": '"dask[distributed]==2026.8.0"'}


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


#: what pip installs for a module that is not its own pip name (quoted where a shell would expand it)
def pip_names(modules):
    return [PIP_NAMES.get(m, m) for m in modules]


def install_command(modules, platform=None):
    """The exact command that installs ``modules`` into the Python QGIS runs on ``platform``."""
    platform = platform or sys.platform
    mods = list(modules)
    torch = "torch" in mods
    others = [p for p in pip_names(mods) if not p.startswith("torch")]
    if platform.startswith("win"):
        py = "python -m pip install"
        prefix = QCoreApplication.translate("HsiFusionAlgorithm", "In the OSGeo4W Shell (Start menu > QGIS > OSGeo4W "
                                                                  "Shell): ")
    elif platform == "darwin":
        py = "/Applications/QGIS.app/Contents/MacOS/bin/python3 -m pip install --user"
        prefix = QCoreApplication.translate("HsiFusionAlgorithm", "In a Terminal: ")
    else:
        py = "python3 -m pip install --user"
        prefix = QCoreApplication.translate("HsiFusionAlgorithm", "In a terminal: ")
    cmds = []
    if torch:
        if platform == "darwin":
            cmds.append(f"{py} torch=={TORCH_VERSION}")
        else:
            # The CPU wheels: an unpinned torch from PyPI on Linux pulls gigabytes of CUDA libraries.
            cmds.append(f"{py} torch=={TORCH_VERSION} --index-url https://download.pytorch.org/whl/cpu")
    if others:
        cmds.append(f"{py} {' '.join(others)}")
    return prefix + QCoreApplication.translate("HsiFusionAlgorithm", "{} , then restart QGIS.").format(
        " && ".join(cmds))


def dependency_message(modules, platform=None):
    """None when every module of ``modules`` can be imported, else what is missing and the command
    that installs it (translated)."""
    missing = missing_dependencies(modules)
    if not missing:
        return None
    names = ", ".join(PIP_NAMES.get(m, m).split("==")[0] for m in missing)
    text = QCoreApplication.translate("HsiFusionAlgorithm", "The Python package(s) {} needed by this algorithm are "
                                                            "not installed in QGIS's Python. {}")
    return text.format(names, install_command(missing, platform))


# ---------------------------------------------------------------------------------------------
# Feedback bridge
# ---------------------------------------------------------------------------------------------

class QgisFeedback(Feedback):
    """The workflow's feedback on a ``QgsProcessingFeedback``: progress bar, log, Cancel button."""

    def __init__(self, feedback):
        self.feedback = feedback
        self._last_message = None

    def progress(self, fraction, message=""):
        self.feedback.setProgress(100.0 * min(max(float(fraction), 0.0), 1.0))
        if message and message != self._last_message:
            self._last_message = message
            self.feedback.setProgressText(message)

    def is_canceled(self):
        return self.feedback.isCanceled()

    def info(self, message):
        self.feedback.pushInfo(message)

    def warning(self, message):
        if hasattr(self.feedback, "pushWarning"):
            self.feedback.pushWarning(message)
        else:
            self.feedback.reportError(message, False)

    def debug(self, message):
        self.feedback.pushDebugInfo(message)


# ---------------------------------------------------------------------------------------------
# Base algorithm
# ---------------------------------------------------------------------------------------------

class HsiFusionAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set ``SPEC`` (a ``ToolSpec``) and ``REQUIRES`` (the Python modules the
    algorithm imports, checked by ``canExecute()``)."""

    SPEC = None
    REQUIRES = ("torch", "rasterio", "scipy")
    CANCEL_MESSAGE = "The run was cancelled; no output was written."

    # -- identity ---------------------------------------------------------------------------
    def tr(self, text):
        return QCoreApplication.translate(TR_CONTEXT, text)

    def name(self):
        return self.SPEC.id

    def displayName(self):  # noqa: N802
        return self.tr(self.SPEC.display)

    def group(self):
        return self.tr(self.SPEC.group)

    def groupId(self):  # noqa: N802
        return self.SPEC.group.lower()

    def shortHelpString(self):  # noqa: N802
        return self.tr(self.SPEC.help)

    def shortDescription(self):  # noqa: N802
        return self.tr(self.SPEC.short_description)

    def tags(self):
        """The tags, translated, and in English too (sensor names and 'pansharpening' are searched so)."""
        return list(dict.fromkeys([self.tr(t) for t in self.SPEC.tags] + list(self.SPEC.tags)))

    def helpUrl(self):  # noqa: N802
        """The README section of this algorithm (GitHub's anchor of its heading)."""
        heading = f"{self.SPEC.display} (hsifusion:{self.SPEC.id})".lower()
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
            return False, msg
        return True, ""

    def checkParameterValues(self, parameters, context):  # noqa: N802
        """QGIS's checks, then the workflow's cheap checks (``core/workflow/checks.py``: output paths,
        raster headers, the pair's geometry, side files): the dialog, every row of a batch and
        ``processing.run`` refuse a bad run before it starts, with the message the run would give."""
        ok, msg = self._check_qgis_values(parameters, context)
        if not ok or missing_dependencies(("rasterio",)):
            return ok, msg  # canExecute() reports a missing rasterio
        from ..core.errors import FusionError
        from ..core.workflow import request_type
        from ..core.workflow.checks import check_request

        try:
            check_request(request_type(self.SPEC.id).from_values(self.parameter_values(parameters, context)))
        except (QgsProcessingException, FusionError) as exc:
            return False, str(exc)
        except Exception:  # noqa: BLE001 - anything else is left to the run, which reports it in full
            return True, ""
        return True, ""

    def _check_qgis_values(self, parameters, context):
        """QGIS's own check of every value, except raster inputs given as the text of a sensor
        product QGIS cannot load as a layer (an EnMAP or Sentinel-2 folder or zip, a PRISMA zip):
        QGIS 3.22 refuses any raster text that is not a loadable file, the workflow reads them."""
        products = {n for n in self._raster_names() if self._product_text(parameters.get(n))}
        if not products:
            return super().checkParameterValues(parameters, context)
        for definition in self.parameterDefinitions():
            name = definition.name()
            if name not in products and not definition.checkValueIsAcceptable(parameters.get(name), context):
                return False, self.tr("Incorrect parameter value for {}").format(definition.description())
        return True, ""

    def _raster_names(self):
        return [p.name for p in self.SPEC.parameters if p.kind == "raster"]

    @staticmethod
    def _product_text(value):
        """``value`` when it is text naming a sensor product that QGIS cannot load as a layer, else None."""
        if not isinstance(value, str) or not value.strip() or missing_dependencies(("rasterio",)):
            return None
        from qgis.core import QgsProject

        if QgsProject.instance().mapLayer(value) is not None:
            return None
        from ..core.errors import FusionError
        from ..core.io.products import resolve_product

        try:
            return value if resolve_product(value) is not None else None
        except FusionError:
            return value       # a product refused with a reason: the run says why
        except Exception:  # noqa: BLE001 - not a product: QGIS's own handling applies
            return None

    # -- parameters ---------------------------------------------------------------------------
    def initAlgorithm(self, config=None):  # noqa: N802
        for p in self.SPEC.parameters:
            self.addParameter(self._qgis_parameter(p))
        for name, label in self.SPEC.numbers:
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(label)))

    def _qgis_parameter(self, p):
        label = self.tr(p.label)
        if p.kind == "raster":
            q = QgsProcessingParameterRasterLayer(p.name, label, optional=p.optional)
        elif p.kind in ("int", "float"):
            kind = NUMBER_INTEGER if p.kind == "int" else NUMBER_DOUBLE
            q = QgsProcessingParameterNumber(p.name, label, kind, defaultValue=p.default, optional=p.optional)
            if p.minimum is not None:
                q.setMinimum(p.minimum)
            if p.maximum is not None:
                q.setMaximum(p.maximum)
        elif p.kind == "bool":
            q = QgsProcessingParameterBoolean(p.name, label, defaultValue=bool(p.default), optional=p.optional)
        elif p.kind == "enum":
            q = QgsProcessingParameterEnum(p.name, label, options=list(p.current_options()), defaultValue=p.default)
            q.setUsesStaticStrings(True)   # DEVICE=cpu in qgis_process and models, not an index
        elif p.kind == "file":
            q = QgsProcessingParameterFile(p.name, label, behavior=FILE_BEHAVIOR_FILE,
                                           fileFilter=p.file_filter, optional=p.optional)
        elif p.kind == "raster_out":
            q = QgsProcessingParameterRasterDestination(p.name, label, optional=p.optional,
                                                        createByDefault=not p.optional)
        elif p.kind == "file_out":
            q = QgsProcessingParameterFileDestination(p.name, label, fileFilter=p.file_filter,
                                                      optional=p.optional, createByDefault=not p.optional)
        elif p.kind == "folder":
            q = QgsProcessingParameterFile(p.name, label, behavior=QgsProcessingParameterFile.Folder,
                                           optional=p.optional)
        elif p.kind == "folder_out":
            q = QgsProcessingParameterFolderDestination(p.name, label, optional=p.optional,
                                                        createByDefault=not p.optional)
        elif p.kind == "string":
            q = QgsProcessingParameterString(p.name, label, defaultValue=p.default, optional=p.optional)
        else:
            raise ValueError(f"unknown parameter kind {p.kind!r}")
        q.setHelp(self.tr(p.help))
        if p.advanced:
            q.setFlags(q.flags() | FLAG_ADVANCED)
        return q

    def parameter_values(self, parameters, context):
        """Every parameter's value, keyed by name, as the workflow's requests take them (None where
        an optional parameter was not given)."""
        values = {}
        for p in self.SPEC.parameters:
            given = parameters.get(p.name) not in (None, "")
            if p.kind == "raster":
                values[p.name] = self._raster_path(parameters, p.name, context) if given or not p.optional else None
            elif p.kind == "bool":
                values[p.name] = self.parameterAsBoolean(parameters, p.name, context) if given else None
            elif p.kind == "int":
                values[p.name] = self.parameterAsInt(parameters, p.name, context) if given else None
            elif p.kind == "float":
                values[p.name] = self.parameterAsDouble(parameters, p.name, context) if given else None
            elif p.kind == "enum":
                values[p.name] = self.parameterAsEnumString(parameters, p.name, context) or p.default
            elif p.kind in ("file", "folder"):
                values[p.name] = (self.parameterAsFile(parameters, p.name, context) or None) if given else None
            elif p.kind == "string":
                values[p.name] = (self.parameterAsString(parameters, p.name, context) or "").strip() or None
            elif p.kind == "raster_out":
                values[p.name] = (self.parameterAsOutputLayer(parameters, p.name, context)
                                  if given or not p.optional else None)
            elif p.kind in ("file_out", "folder_out"):
                values[p.name] = (self.parameterAsFileOutput(parameters, p.name, context) or None
                                  if given or not p.optional else None)
        return values

    def _raster_path(self, parameters, name, context):
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None and self._product_text(parameters.get(name)):
            return parameters[name].strip()
        if layer is None:
            raise QgsProcessingException(self.tr("{}: the raster could not be loaded").format(name))
        if layer.providerType() != "gdal":
            raise QgsProcessingException(self.tr(
                "{}: only file rasters read by GDAL are supported (this one comes from '{}'); save it as a "
                "GeoTIFF first").format(name, layer.providerType()))
        return layer.source().split("|")[0]

    # -- running --------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        ok, msg = self.canExecute()
        if not ok:
            raise QgsProcessingException(msg)
        from ..core.errors import Cancelled, FusionError
        from ..core.workflow import runner

        request_type, run = runner(self.SPEC.id)
        try:
            request = request_type.from_values(self.parameter_values(parameters, context))
            outputs = run(request, QgisFeedback(feedback)).outputs
        except Cancelled:
            raise QgsProcessingException(self.tr(self.CANCEL_MESSAGE))
        except QgsProcessingException:
            raise
        except FusionError as exc:
            raise QgsProcessingException(str(exc))
        except MemoryError:
            raise QgsProcessingException(self.tr(
                "Not enough memory for these images: crop them (Raster > Extraction > Clip) or use fewer bands."))
        except OSError as exc:
            raise QgsProcessingException(self.tr("Could not read or write a file: {}").format(exc))
        except Exception as exc:  # noqa: BLE001 - last resort: keep the traceback in the log for bug reports
            feedback.pushDebugInfo(traceback.format_exc())
            raise QgsProcessingException(self.tr("Unexpected error ({}): {}").format(type(exc).__name__, exc))
        for p in self.SPEC.parameters:
            if p.kind == "raster_out":
                attach_colour_renderer(context, outputs.get(p.name))
        return outputs
