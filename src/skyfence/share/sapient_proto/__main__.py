"""``python -m skyfence.share.sapient_proto``: regenerate the committed ``*_pb2`` modules."""

from skyfence.share.sapient_proto import generate

for path in generate():
    print(path)
