"""RF detection: IQ samples (SigMF recordings or live SDR streams) to emissions and bearings.

``RfDetector`` finds emissions by CFAR on a block spectrogram and names their link
(ELRS/LoRa, analog FM video, digital OFDM video, Wi-Fi, narrowband); with an antenna array
it adds a bearing, and ``Emissions.to_detections()`` gives skyfence ``bearing`` detections.
"""

from skyfence.detect.rf.bearing import ArrayGeometry, Bearing, estimate_bearing, read_array
from skyfence.detect.rf.detector import (
    PROTOCOLS,
    Emissions,
    RfDetector,
    RfDetectorConfig,
    emission_records,
    protocol_counts,
)

__all__ = [
    "PROTOCOLS",
    "ArrayGeometry",
    "Bearing",
    "Emissions",
    "RfDetector",
    "RfDetectorConfig",
    "emission_records",
    "estimate_bearing",
    "protocol_counts",
    "read_array",
]
