// The history pages: the schedule's UTC hour in the reader's own time, and the compare slider.
"use strict";

(() => {
  const hint = document.getElementById("schedule-local-time");
  const hourField = document.getElementById("hour");
  if (hint && hourField) {
    const show = () => {
      const moment = new Date();
      moment.setUTCHours(Number(hourField.value), 0, 0, 0);
      hint.textContent = `That is ${moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} in your time.`;
    };
    hourField.addEventListener("change", show);
    show();
  }

  const slider = document.getElementById("compare-slider");
  const stage = document.getElementById("compare-stage");
  if (slider && stage) {
    const apply = () => stage.style.setProperty("--split", `${slider.value}%`);
    slider.addEventListener("input", apply);
    apply();
  }
})();
