#include "audio/portaudio_session.h"

#include <portaudio.h>

#include <string>

#include "util/error.h"

namespace npuscribe {

namespace {
bool g_initialized = false;
int g_open_streams = 0;
}  // namespace

std::mutex& portaudio_mutex() {
  static std::mutex mutex;
  return mutex;
}

void portaudio_ensure_initialized(bool rescan) {
  if (g_initialized && rescan && g_open_streams == 0) {
    Pa_Terminate();
    g_initialized = false;
  }
  if (g_initialized) return;
  const PaError status = Pa_Initialize();
  if (status != paNoError)
    throw Error(std::string("cannot start the audio system (PortAudio): ") + Pa_GetErrorText(status) +
                "; check that ALSA or PulseAudio works");
  g_initialized = true;
}

void portaudio_stream_opened() {
  ++g_open_streams;
}
void portaudio_stream_closed() {
  --g_open_streams;
}

}  // namespace npuscribe
