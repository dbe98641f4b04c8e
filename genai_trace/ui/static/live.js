// The topbar's live indicator: green while the server answers the page's polls.

export function setLive(ok) {
  const el = document.getElementById("live");
  if (!el) return;
  el.textContent = ok ? "● live" : "● server unreachable";
  el.classList.toggle("ok", ok);
  el.classList.toggle("down", !ok);
}
