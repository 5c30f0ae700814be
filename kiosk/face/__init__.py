"""Face verification (Qt-free): detection, 5-point alignment, 128-d descriptors, liveness.

Uses dlib (the `dlib-bin` wheel) with the model files of the `face-recognition-models`
wheel: the HOG frontal face detector, the 5-point landmark model for alignment and the
ResNet model for descriptors. The 68-point model is never needed. Models load lazily,
on the first verification, so the kiosk's cold start does not pay for them. Frames,
face chips and descriptors live in memory for one session only.
"""
