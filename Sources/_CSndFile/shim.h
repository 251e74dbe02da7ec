// libsndfile (Debian: libsndfile1-dev): WAV, FLAC, OGG/Vorbis decoding.
#include <sndfile.h>
