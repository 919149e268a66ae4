// One PortAudio library session for the process (capture and playback share it). PortAudio only sees
// hot-plugged devices after Pa_Terminate/Pa_Initialize, which is safe only while no stream is open.
#pragma once

#include <mutex>

namespace npuscribe {

std::mutex& portaudio_mutex();  // held around every PortAudio call that touches devices or streams
// Initialises PortAudio once; with `rescan`, re-initialises when no stream is open. Caller holds the mutex.
// Throws npuscribe::Error when PortAudio cannot start.
void portaudio_ensure_initialized(bool rescan);
void portaudio_stream_opened();  // caller holds the mutex
void portaudio_stream_closed();

}  // namespace npuscribe
