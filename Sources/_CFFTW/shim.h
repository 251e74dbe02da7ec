// FFTW 3, double precision (Debian: libfftw3-dev). TensorFlow's spectrogram kernel computes its
// FFT in double, so double precision here is what makes the features match it bit for bit.
#include <fftw3.h>
