#pragma once
// The npuscribe command line: transcribe, inspect, bench. Returns the process exit code
// (0 success, 1 runtime error, 2 usage error).
int run_cli(int argc, char** argv);
// True when argv asks for the command line rather than the desktop window.
bool wants_cli(int argc, char** argv);
