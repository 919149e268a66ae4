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
void EncoderBackend::encoder_blocks(int first_layer, int layer_count, Activations& x, int* completed_layers) {
  *completed_layers = 0;
  for (int i = 0; i < layer_count; ++i) {
    encoder_block(first_layer + i, x);
    *completed_layers = i + 1;
  }
}
void EncoderBackend::post_norm(Activations&) {
  throw std::logic_error(std::string(name()) + " backend does not run the final LayerNorm");
}

}  // namespace npuscribe
