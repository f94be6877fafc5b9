#pragma once
// What the report says of the machine it ran on (linux/machine.cpp).

#include <string>

namespace bench {

std::string cpu_model();  // "AMD EPYC", or "unknown CPU"
long cores_online();
std::string kernel_release();  // "6.1.0-18-amd64", or "unknown"

}  // namespace bench
