"""Processing algorithms of the ``hsifusion`` provider (one module each, shared base in ``base``)."""


def all_algorithms():
    from .batch_fusion import BatchFusionAlgorithm
    from .blind_fusion import BlindFusionAlgorithm
    from .estimate_degradation import EstimateDegradationAlgorithm
    from .fusion_quality import FusionQualityAlgorithm
    from .simulate_observations import SimulateObservationsAlgorithm

    return [BlindFusionAlgorithm(), EstimateDegradationAlgorithm(), SimulateObservationsAlgorithm(),
            FusionQualityAlgorithm(), BatchFusionAlgorithm()]
