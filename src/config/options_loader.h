// Builds Options from the command line and the TOML config file (toml++). Startup code:
// runs once on the main thread; errors are values carrying FILE:LINE:COL for the file.
#pragma once

#include <optional>
#include <string>

#include "include/peregrine/options.h"

namespace peregrine::config {

// Parses argv (the file named by --config first, then the flags over it). Returns an
// exit code when the process should stop here (--help, --version: 0; bad usage: 2).
std::optional<int> load_options(int argc, char** argv, Options& out);

// Reads one TOML file into `out`; false and `error` ("FILE:LINE:COL: what") on failure.
bool load_config_file(const std::string& path, Options& out, std::string* error);

// Checks values that both sources share; false and `error` if one is out of range.
bool validate_options(const Options& options, std::string* error);

// The usage text of --help.
const char* usage_text();

}  // namespace peregrine::config
