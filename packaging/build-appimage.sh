#!/bin/bash
# Assembles the AppDir from the built npuscribe and packs it into a type 2 AppImage; run by the CMake target
# `appimage` (packaging/CMakeLists.txt), which passes every path. The library set is derived from the built
# binary and plugins with ldd (recursively), minus packaging/excludelist.txt; see packaging/README.md.
set -euo pipefail

usage() {
  echo "usage: $0 --binary FILE --runtime FILE --source-dir DIR --icons DIR --qt-plugins DIR --appdir DIR" \
       "--output FILE [--version V] [--module FILE]..." >&2
  exit 2
}
binary="" runtime="" source_dir="" icons="" qt_plugins="" appdir="" output="" version="0" modules=()
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2 ;;
    --runtime) runtime=$2 ;;
    --source-dir) source_dir=$2 ;;
    --icons) icons=$2 ;;
    --qt-plugins) qt_plugins=$2 ;;
    --appdir) appdir=$2 ;;
    --output) output=$2 ;;
    --version) version=$2 ;;
    --module) modules+=("$2") ;;
    *) usage ;;
  esac
  shift 2
done
for value in "$binary" "$runtime" "$source_dir" "$icons" "$qt_plugins" "$appdir" "$output"; do
  [ -n "$value" ] || usage
done
packaging="$source_dir/packaging"
resources="$source_dir/resources"

fail() { echo "build-appimage: $*" >&2; exit 1; }

# --- exclude list --------------------------------------------------------------------------------------
exclude_patterns=()
while read -r pattern; do
  [ -n "$pattern" ] && exclude_patterns+=("$pattern")
done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$packaging/excludelist.txt")
is_excluded() {
  local pattern
  for pattern in "${exclude_patterns[@]}"; do
    # shellcheck disable=SC2053  # the entries are globs
    [[ $1 == $pattern ]] && return 0
  done
  return 1
}

# --- layout --------------------------------------------------------------------------------------------
rm -rf "$appdir"
mkdir -p "$appdir/usr/bin" "$appdir/usr/lib" "$appdir/usr/plugins" "$appdir/usr/share/applications" \
         "$appdir/usr/share/metainfo" "$appdir/usr/share/icons/hicolor/scalable/apps"
# Debug info stays in the build tree; the image carries the stripped binary.
strip --strip-debug -o "$appdir/usr/bin/npuscribe" "$binary"
chmod 755 "$appdir/usr/bin/npuscribe"
install -m 644 "$packaging/qt.conf" "$appdir/usr/bin/qt.conf"
install -m 755 "$packaging/AppRun" "$appdir/AppRun"
# Modules the app dlopen()s by path: the XRT plugin from usr/lib/npuscribe (core/backend/npu/xrt).
for module in "${modules[@]+"${modules[@]}"}"; do
  mkdir -p "$appdir/usr/lib/npuscribe"
  install -m 644 "$module" "$appdir/usr/lib/npuscribe/"
done

# Qt plugins: what a Widgets app needs on X11 and Wayland (and offscreen for tests). Left out: eglfs/
# linuxfb/vnc (no desktop), printsupport (would bring CUPS; the app does not print), sql, tls and
# networkinformation (the app downloads with libcurl, not Qt Network).
plugin_globs=(
  platforms/libqxcb.so platforms/libqwayland-generic.so platforms/libqwayland-egl.so
  platforms/libqoffscreen.so platforms/libqminimal.so
  'xcbglintegrations/*.so'
  'wayland-shell-integration/*.so' 'wayland-decoration-client/*.so' 'wayland-graphics-integration-client/*.so'
  'platformthemes/*.so' 'platforminputcontexts/*.so' 'imageformats/*.so' 'iconengines/*.so'
)
for plugin_glob in "${plugin_globs[@]}"; do
  found=0
  for plugin in "$qt_plugins"/$plugin_glob; do
    [ -f "$plugin" ] || continue
    relative=${plugin#"$qt_plugins"/}
    mkdir -p "$appdir/usr/plugins/$(dirname "$relative")"
    cp -L "$plugin" "$appdir/usr/plugins/$relative"
    found=1
  done
  [ $found = 1 ] || fail "no Qt plugin $qt_plugins/$plugin_glob (install qt6-base-dev, qt6-wayland, qt6-svg-dev, qt6-image-formats-plugins)"
done

# Libraries the app opens with dlopen (ldd cannot see them): packaging/dlopen-libraries.txt.
library_dirs=(/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /lib /usr/lib)
while read -r name; do
  [ -n "$name" ] || continue
  path=""
  for dir in "${library_dirs[@]}"; do
    if [ -e "$dir/$name" ]; then path="$dir/$name"; break; fi
  done
  [ -n "$path" ] || fail "$name (packaging/dlopen-libraries.txt) is not installed on the build machine"
  cp -L "$path" "$appdir/usr/lib/$name"
done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$packaging/dlopen-libraries.txt")

# --- dependencies, recursively ------------------------------------------------------------------------
# Each ELF's NEEDED entries (readelf), resolved the way the loader will (ldd, with the AppDir's lib/ first
# as AppRun sets it). Excluded libraries are not followed: what only they need (XRT's Boost ...) stays out.
needed_of() { readelf -d -W "$1" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p'; }
declare -A needed_by_image=()
pending=()
while IFS= read -r -d '' file; do
  if [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ]; then pending+=("$file"); fi
done < <(find "$appdir/usr" -type f -print0)
while [ ${#pending[@]} -gt 0 ]; do
  next=()
  for elf in "${pending[@]}"; do
    declare -A resolved=()
    # ldd fails only on files without a dynamic section, which have no NEEDED entries either.
    ldd_output=$(LD_LIBRARY_PATH="$appdir/usr/lib" ldd "$elf" 2> /dev/null) || ldd_output=""
    while read -r name arrow path _; do
      [ "$arrow" = "=>" ] && resolved[$name]=$path
    done <<< "$ldd_output"
    while read -r name; do
      [ -n "$name" ] || continue
      needed_by_image[$name]=1
      is_excluded "$name" && continue
      [ -e "$appdir/usr/lib/$name" ] && continue
      path=${resolved[$name]:-not}
      [ "$path" != "not" ] || fail "$elf needs $name, which is not installed on the build machine"
      cp -L "$path" "$appdir/usr/lib/$name"
      chmod 644 "$appdir/usr/lib/$name"
      next+=("$appdir/usr/lib/$name")
    done < <(needed_of "$elf")
    unset resolved
  done
  pending=("${next[@]+"${next[@]}"}")
done

# The build's RUNPATH (e.g. OpenBLAS's OpenMP variant directory, which picked the library bundled above)
# names build-machine directories; in the image the libraries are in ../lib.
# shellcheck disable=SC2016  # $ORIGIN is for the loader, not the shell
patchelf --set-rpath '$ORIGIN/../lib' "$appdir/usr/bin/npuscribe"

# Excluded libraries some targets lack although a bundled library hard-links them (packaging/
# fallback-libraries.txt): a copy in usr/lib/fallback, which AppRun adds only when the host has none.
while read -r name; do
  if [ -z "$name" ] || [ -z "${needed_by_image[$name]:-}" ]; then continue; fi
  path=""
  for dir in "${library_dirs[@]}"; do
    if [ -e "$dir/$name" ]; then path="$dir/$name"; break; fi
  done
  [ -n "$path" ] || fail "$name (packaging/fallback-libraries.txt) is not installed on the build machine"
  mkdir -p "$appdir/usr/lib/fallback"
  cp -L "$path" "$appdir/usr/lib/fallback/$name"
  # Its own dependencies go to usr/lib like any other.
  while read -r dependency; do
    if is_excluded "$dependency" || [ -e "$appdir/usr/lib/$dependency" ]; then continue; fi
    dependency_path=$(ldd "$path" | awk -v n="$dependency" '$1 == n { print $3 }')
    [ -n "$dependency_path" ] || fail "$name needs $dependency, which is not installed"
    cp -L "$dependency_path" "$appdir/usr/lib/$dependency"
  done < <(needed_of "$path")
done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$packaging/fallback-libraries.txt")

# --- desktop integration ------------------------------------------------------------------------------
install -m 644 "$resources/npuscribe.desktop" "$appdir/npuscribe.desktop"
install -m 644 "$resources/npuscribe.desktop" "$appdir/usr/share/applications/npuscribe.desktop"
for metainfo in "$resources"/*.metainfo.xml; do
  install -m 644 "$metainfo" "$appdir/usr/share/metainfo/"
done
cp -r "$icons/hicolor/." "$appdir/usr/share/icons/hicolor/"
install -m 644 "$resources/icons/npuscribe.svg" "$appdir/usr/share/icons/hicolor/scalable/apps/npuscribe.svg"
install -m 644 "$icons/hicolor/256x256/apps/npuscribe.png" "$appdir/npuscribe.png"
install -m 644 "$icons/hicolor/256x256/apps/npuscribe.png" "$appdir/.DirIcon"

desktop-file-validate "$appdir/npuscribe.desktop" || fail "npuscribe.desktop does not validate"
for metainfo in "$appdir"/usr/share/metainfo/*.metainfo.xml; do
  appstreamcli validate --no-net --explain "$metainfo" >&2 || fail "$(basename "$metainfo") does not validate"
done

# --- the AppImage -------------------------------------------------------------------------------------
rm -f "$output" "$output.squashfs"
if command -v appimagetool > /dev/null; then
  # The upstream tool and its runtime when installed; ours otherwise.
  ARCH=x86_64 VERSION="$version" appimagetool --no-appstream "$appdir" "$output"
else
  # zstd decompresses fast (start-up reads through it). Level 9 packs this AppDir in ~10 s to ~89 MiB; 19
  # saves 7 MiB more for 25x the time (NPUSCRIBE_APPIMAGE_ZSTD_LEVEL=19 for releases).
  mksquashfs "$appdir" "$output.squashfs" -root-owned -noappend -no-progress -quiet -comp zstd \
    -Xcompression-level "${NPUSCRIBE_APPIMAGE_ZSTD_LEVEL:-9}" -b 256K > /dev/null
  cat "$runtime" "$output.squashfs" > "$output.partial"
  rm -f "$output.squashfs"
  chmod 755 "$output.partial"
  mv "$output.partial" "$output"
fi
echo "build-appimage: $output ($(( $(stat -c %s "$output") / 1048576 )) MiB)"
