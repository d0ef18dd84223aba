"""Remote ID: decode what drones broadcast about themselves (ASTM F3411 / ASD-STAN Open Drone ID
over Wi-Fi beacon, Wi-Fi NAN and Bluetooth LE, and DJI's own DroneID in Wi-Fi beacons), check
each drone's stream for plausibility (spoofing) and hand positions on as ``remote_id``
detections. Receive-only: the encoder exists for simulation and tests, nothing transmits.

Five lines from a capture to detections::

    from skyfence.detect.remoteid import decode_capture, position_reports, check_plausibility
    from skyfence.detect.remoteid import default_site, remote_id_detections
    reports = position_reports(decode_capture("capture.pcapng").decoded)
    dets = remote_id_detections(reports, check_plausibility(reports), default_site(reports))
"""

from __future__ import annotations

from skyfence.detect.remoteid.batch import LocationBatch, decode_locations
from skyfence.detect.remoteid.broadcast import beacons_from_detections, detections_from_beacons
from skyfence.detect.remoteid.capture import (
    CaptureDecode,
    DecodedPayload,
    PositionReports,
    decode_capture,
    decode_packets,
    decode_payload,
    position_reports,
)
from skyfence.detect.remoteid.detections import default_site, remote_id_detections
from skyfence.detect.remoteid.dji import DjiFlightInfo, decode_dji_flight_info, encode_dji_flight_info
from skyfence.detect.remoteid.encode import (
    beacon_frame,
    ble_legacy_advertising_data,
    encode_message,
    wifi_beacon_element,
)
from skyfence.detect.remoteid.frames import Payload, remote_id_payloads
from skyfence.detect.remoteid.messages import (
    Authentication,
    BasicID,
    Location,
    Message,
    MessagePack,
    OperatorID,
    SelfID,
    System,
    decode_message,
    message_record,
)
from skyfence.detect.remoteid.plausibility import (
    REASONS,
    Plausibility,
    PlausibilityConfig,
    SerialVerdict,
    check_plausibility,
)

__all__ = [
    "REASONS",
    "Authentication",
    "BasicID",
    "CaptureDecode",
    "DecodedPayload",
    "DjiFlightInfo",
    "Location",
    "LocationBatch",
    "Message",
    "MessagePack",
    "OperatorID",
    "Payload",
    "Plausibility",
    "PlausibilityConfig",
    "PositionReports",
    "SelfID",
    "SerialVerdict",
    "System",
    "beacon_frame",
    "beacons_from_detections",
    "ble_legacy_advertising_data",
    "check_plausibility",
    "decode_capture",
    "decode_dji_flight_info",
    "decode_locations",
    "decode_message",
    "decode_packets",
    "decode_payload",
    "default_site",
    "detections_from_beacons",
    "encode_dji_flight_info",
    "encode_message",
    "message_record",
    "position_reports",
    "remote_id_detections",
    "remote_id_payloads",
    "wifi_beacon_element",
]
