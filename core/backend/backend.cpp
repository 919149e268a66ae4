#include "backend/backend.h"

#include <stdexcept>

namespace npuscribe {

// Reaching these is a programmer error: the engine dispatches only what supports() claims.
void EncoderBackend::conv_stem(const MelWindow&, Activations&) {
  throw std::logic_error(std::string(name()) + " backend does not run the conv stem");
}
void EncoderBackend::encoder_block(int, Activations&) {
  throw std::logic_error(std::string(name()) + " backend does not run encoder blocks");
}
void EncoderBackend::post_norm(Activations&) {
  throw std::logic_error(std::string(name()) + " backend does not run the final LayerNorm");
}

}  // namespace npuscribe
