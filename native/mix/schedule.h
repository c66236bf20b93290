// The lane schedule of docs/FORMAT.md as a list of steps: which (chunk, token) each
// lane codes at each step. The engine runs the same schedule with llama.cpp; the
// harness and the tests use this copy to drive the mixed coder without a model.
#pragma once
#include <cstdint>
#include <vector>

namespace lmzip::mix {

struct Slot {
  uint32_t chunk, index;
  int lane;
};

// counts[c]: tokens of chunk c (0: not in the schedule). Chunks go to lanes in order;
// a lane that finishes its chunk takes the next one at the following step.
inline std::vector<std::vector<Slot>> lane_schedule(const std::vector<uint32_t>& counts, int lanes) {
  std::vector<std::vector<Slot>> steps;
  std::vector<int> lane_chunk(size_t(lanes), -1);
  std::vector<uint32_t> coded(size_t(lanes), 0);
  size_t next = 0;
  auto assign = [&](int l) {
    while (next < counts.size() && counts[next] == 0) ++next;
    lane_chunk[size_t(l)] = next < counts.size() ? int(next++) : -1;
    coded[size_t(l)] = 0;
  };
  for (int l = 0; l < lanes; ++l) assign(l);
  while (true) {
    std::vector<Slot> step;
    for (int l = 0; l < lanes; ++l)
      if (lane_chunk[size_t(l)] >= 0) step.push_back({uint32_t(lane_chunk[size_t(l)]), coded[size_t(l)], l});
    if (step.empty()) break;
    for (int l = 0; l < lanes; ++l)
      if (lane_chunk[size_t(l)] >= 0 && ++coded[size_t(l)] == counts[size_t(lane_chunk[size_t(l)])]) assign(l);
    steps.push_back(std::move(step));
  }
  return steps;
}

}  // namespace lmzip::mix
