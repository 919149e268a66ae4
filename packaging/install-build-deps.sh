#!/bin/sh
# Installs the Debian/Ubuntu packages npuscribe builds and tests with. Idempotent; uses sudo when not root.
set -eu
packages="build-essential cmake ninja-build pkg-config git
  libopenblas-openmp-dev libfftw3-dev zlib1g-dev libavformat-dev libavcodec-dev libswresample-dev libavutil-dev libcli11-dev nlohmann-json3-dev
  qt6-base-dev libgl-dev libcurl4-openssl-dev libssl-dev
  libqcustomplot-dev portaudio19-dev libwebrtc-audio-processing-dev libxtst-dev
  qt6-wayland qt6-image-formats-plugins qt6-svg-dev
  sox espeak-ng ffmpeg pulseaudio pulseaudio-utils libasound2-plugins xvfb xauth
  squashfs-tools libsquashfuse-dev libfuse3-dev fuse3 desktop-file-utils appstream patchelf file
  libzstd-dev liblz4-dev liblzo2-dev librsvg2-bin x11-utils"
if [ "$(id -u)" -eq 0 ]; then as_root=""; else as_root="sudo"; fi
missing=""
for package in $packages; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $as_root apt-get update -qq
  # shellcheck disable=SC2086
  $as_root apt-get install -y -qq --no-install-recommends $missing
fi
