// The agent's page for remote help (docs/assist.md): the queue over the /assist/agent
// WebSocket, and during a call a WebRTC peer connection answering the terminal's offer
// (the terminal always offers), the citizen's video and voice, the agent's own preview,
// and the terminal's masked screen from the "assist" data channel, with proposals the
// citizen confirms on the terminal. No library, no CDN (the console's CSP allows 'self').
"use strict";
(function () {
  const root = document.getElementById("assist");
  if (!root) return;
  const W = JSON.parse(document.getElementById("assist-words").textContent);
  const $ = (id) => document.getElementById(id);
  const me = root.dataset.login;
  const csrf = $("assist-csrf").value;
  const ICE_GATHER_MS = 8000; // an upper bound: a relay candidate may take a moment

  let ws = null;
  let current = null; // {call, terminal, site, service_title, state}
  let wrapup = null; // a call the citizen ended: its outcome is still ours to give
  let pc = null;
  let channel = null;
  let localStream = null;
  let screen = null; // the last "screen" message
  let proposalN = 0;
  let agents = [];
  let lastQueue = {calls: [], agents: []};
  const baseTitle = document.title;

  function t(key, vars) {
    let s = W[key] || key;
    for (const k in vars || {}) s = s.replace("{" + k + "}", vars[k]);
    return s;
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function notice(text, kind) {
    const n = $("notice");
    n.textContent = text || "";
    n.className = "notice " + (kind || "");
    n.hidden = !text;
  }
  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  // -- signalling ----------------------------------------------------------------------
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + root.dataset.socket);
    setSocket("connecting");
    ws.onopen = () => {
      ws.send(JSON.stringify({type: "hello", csrf: csrf}));
      setSocket("open");
      $("on-duty").disabled = false;
      if ($("on-duty").checked) send({type: "status", state: "available"});
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      const h = handlers[msg.type];
      if (h) h(msg);
    };
    ws.onclose = (ev) => {
      $("on-duty").disabled = true;
      if (ev.code === 4401 || ev.code === 4403) { setSocket("refused"); return; }
      if (ev.code === 4409) return; // this page was replaced by another of ours
      setSocket("closed");
      setTimeout(connect, 2000);
    };
  }
  function setSocket(state) {
    const s = $("socket-state");
    s.textContent = t("assist.socket." + state);
    s.dataset.state = state;
    s.className = "pill " + (state === "open" ? "ok" : state === "connecting" ? "" : "bad");
  }

  const handlers = {
    queue: (m) => { lastQueue = m; renderQueue(m); },
    taken: (m) => startCall(m),
    offer: (m) => onOffer(m).catch((e) => {
      $("media-state").textContent = t("assist.media.failed") + " (" + e + ")";
    }),
    transferred: (m) => notice(t("assist.transferred_to_me", {name: m.from}), "info"),
    ended: (m) => onEnded(m),
    error: (m) => notice(t("assist.error." + m.error), "bad"),
  };

  // -- the queue -----------------------------------------------------------------------
  function renderQueue(m) {
    agents = m.agents;
    const body = $("queue").querySelector("tbody");
    body.textContent = "";
    for (const c of m.calls) {
      const tr = el("tr", {"data-call": c.call, "data-state": c.state});
      tr.appendChild(el("td", {}, c.terminal));
      tr.appendChild(el("td", {}, c.site || "—"));
      tr.appendChild(el("td", {}, c.service_title || "—"));
      tr.appendChild(el("td", {class: "num", "data-waited": c.waited_s,
                               "data-since": String(Date.now())}, fmtSecs(c.waited_s)));
      tr.appendChild(el("td", {}, t("assist.state." + c.state)));
      const who = agents.find((a) => a.login === (c.state === "transferring" ? c.to : c.agent));
      tr.appendChild(el("td", {}, c.agent ? (who ? who.name + " (" + who.login + ")" : c.agent) : ""));
      const td = el("td");
      const mine = c.state === "waiting" || (c.state === "transferring" && c.to === me);
      if (mine && !current) {
        const b = el("button", {type: "button", class: "answer", "data-call": c.call},
                     t("assist.answer"));
        b.addEventListener("click", () => send({type: "take", call: c.call}));
        td.appendChild(b);
      }
      tr.appendChild(td);
      body.appendChild(tr);
    }
    $("queue-empty").hidden = m.calls.length > 0;
    // a call waiting shows in the tab's title, for an agent working in another tab
    const waiting = m.calls.filter((c) => c.state === "waiting" ||
                                          (c.state === "transferring" && c.to === me)).length;
    document.title = (waiting ? "(" + waiting + ") " : "") + baseTitle;
    const list = $("agents");
    list.textContent = "";
    for (const a of m.agents) {
      list.appendChild(el("span", {class: "agent " + a.state, "data-login": a.login},
                          a.name + " (" + a.login + ") " + t("assist.state." + a.state)));
    }
    const mineNow = m.agents.find((a) => a.login === me);
    if (mineNow && mineNow.state !== "busy") $("on-duty").checked = mineNow.state === "available";
    if (current) {
      const row = m.calls.find((c) => c.call === current.call);
      // (a queue from before our `taken` may still be shown: a call waiting or passed to us)
      const passedOn = row && (row.state === "transferring" ? row.to !== me
                                                            : !!row.agent && row.agent !== me);
      if (row && row.agent === me && !passedOn) {
        current.state = row.state;
        showCallState();
      } else if (passedOn) { // passed on to another agent: no longer ours
        closePeer(true);
        current = null;
        renderScreen(null);
        $("call").hidden = true;
        notice(t("assist.transferring"), "info");
      }
    }
    renderTransferTargets();
    ringing(waiting > 0 && !current && $("on-duty").checked);
  }
  function fmtSecs(s) {
    s = Math.max(0, Math.floor(s));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  setInterval(() => { // waited times tick between queue messages
    for (const td of document.querySelectorAll("td[data-waited]")) {
      const s = Number(td.dataset.waited) + (Date.now() - Number(td.dataset.since)) / 1000;
      td.textContent = fmtSecs(s);
    }
  }, 1000);
  function renderTransferTargets() {
    const sel = $("transfer-to");
    const keep = sel.value;
    sel.textContent = "";
    for (const a of agents) {
      if (a.login === me || a.state !== "available") continue;
      sel.appendChild(el("option", {value: a.login}, a.name + " (" + a.login + ")"));
    }
    if (keep) sel.value = keep;
    sel.parentElement.hidden = sel.options.length === 0; // nobody to pass a call on to
    $("transfer").hidden = sel.options.length === 0;
    $("transfer").disabled = !current || sel.options.length === 0;
  }

  // -- a call --------------------------------------------------------------------------
  function startCall(m) {
    wrapup = null;
    current = {call: m.call, terminal: m.terminal, site: m.site,
               service_title: m.service_title, state: "connected"};
    $("call").hidden = false;
    $("call-terminal").textContent = m.terminal;
    $("call-site").textContent = m.site || "—";
    $("call-service").textContent = m.service_title || "—";
    $("media-state").textContent = t("assist.media.waiting");
    setOutcomeButtons(true);
    notice("");
    renderScreen(null);
    $("proposal").textContent = ""; // the last call's "citizen confirmed" is not this call's
    $("proposal").dataset.result = "";
    showCallState();
    renderQueue(lastQueue);
  }
  function showCallState() {
    const st = current ? current.state : "";
    $("call-state").textContent = st ? t("assist.state." + st) : "";
    $("hold").hidden = st === "held";
    $("resume").hidden = st !== "held";
    $("hold").disabled = !current || st !== "connected";
    if (localStream) for (const tr of localStream.getTracks()) tr.enabled = st !== "held";
    if (st === "held") notice(t("assist.held"), "info");
  }
  function setOutcomeButtons(on) {
    for (const b of document.querySelectorAll("button.outcome")) b.disabled = !on;
  }

  async function onOffer(m) {
    if (!current || m.call !== current.call) return;
    closePeer(false); // restart: a new connection on the same call replaces the old one
    const peer = new RTCPeerConnection({
      iceServers: m.ice_servers || [],
      iceTransportPolicy: m.ice_policy === "relay" ? "relay" : "all",
    });
    pc = peer;
    peer.ontrack = (ev) => {
      const v = $("remote-video");
      if (ev.streams && ev.streams[0]) v.srcObject = ev.streams[0];
      else {
        if (!(v.srcObject instanceof MediaStream)) v.srcObject = new MediaStream();
        v.srcObject.addTrack(ev.track);
      }
      $("media-state").textContent = t("assist.media.connected");
      $("media-state").dataset.state = "media";
    };
    peer.ondatachannel = (ev) => { if (ev.channel.label === "assist") openChannel(ev.channel); };
    peer.onconnectionstatechange = () => {
      if (peer !== pc) return;
      $("media-state").dataset.connection = peer.connectionState;
      if (peer.connectionState === "failed") $("media-state").textContent = t("assist.media.failed");
    };
    await peer.setRemoteDescription({type: "offer", sdp: m.sdp});
    if (!localStream) {
      try {
        localStream = await navigator.mediaDevices.getUserMedia(
          {audio: true, video: {width: 640, height: 480}});
        $("local-video").srcObject = localStream;
      } catch (e) {
        notice(t("assist.media.no_camera"), "bad");
      }
    }
    if (peer !== pc) return; // replaced meanwhile
    if (localStream) {
      for (const tr of localStream.getTracks()) {
        tr.enabled = current.state !== "held";
        peer.addTrack(tr, localStream);
      }
    }
    await peer.setLocalDescription(await peer.createAnswer());
    await gathered(peer);
    if (peer !== pc || !current) return;
    send({type: "answer", call: m.call, sdp: peer.localDescription.sdp});
  }
  function gathered(peer) {
    // the terminal (aiortc) takes no trickled candidates: the answer carries them all
    if (peer.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (peer.iceGatheringState === "complete") resolve(); };
      peer.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, ICE_GATHER_MS);
    });
  }
  function closePeer(stopLocal) {
    if (channel) { try { channel.close(); } catch (e) { /* closed already */ } channel = null; }
    if (pc) { try { pc.close(); } catch (e) { /* closed already */ } pc = null; }
    if (stopLocal && localStream) {
      for (const tr of localStream.getTracks()) tr.stop();
      localStream = null;
      $("local-video").srcObject = null;
    }
    if (stopLocal) $("remote-video").srcObject = null;
  }

  function onEnded(m) {
    if (!current || m.call !== current.call) return;
    closePeer(true);
    const theirs = m.reason !== "agent";
    notice(t("assist.ended." + m.reason), theirs ? "bad" : "info");
    current = null;
    renderScreen(null);
    $("call-state").textContent = "";
    $("hold").disabled = true;
    $("transfer").disabled = true;
    if (theirs && m.reason !== "terminal_gone" && m.reason !== "no_answer") {
      wrapup = m.call; // outcome buttons stay: the record waits for it
      setOutcomeButtons(true);
    } else {
      $("call").hidden = true;
      setOutcomeButtons(false);
    }
    renderQueue(lastQueue);
  }

  // -- the terminal's screen and proposals ------------------------------------------------
  function openChannel(ch) {
    channel = ch;
    ch.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "screen") renderScreen(msg);
      else if (msg.type === "proposal") showProposal(msg);
    };
  }
  function renderScreen(s) {
    screen = s;
    const img = $("mirror");
    if (s && s.image) { img.src = s.image; img.hidden = false; } else { img.removeAttribute("src"); img.hidden = true; }
    $("step-title").textContent = s ? (s.title || s.step || "—") : "—";
    $("step-title").dataset.seq = s ? s.seq : "";
    $("step-title").dataset.step = s ? s.step : "";
    const locked = !!(s && s.locked);
    $("lock").hidden = !locked;
    $("lock").textContent = locked ? t("assist.locked") + t("assist.lock." + s.lock) : "";
    const opts = $("options");
    opts.textContent = "";
    for (const o of (s && s.options) || []) {
      const b = el("button", {type: "button", class: "option", "data-value": o.value}, o.label);
      b.disabled = locked;
      if (locked) b.title = $("lock").textContent;
      b.addEventListener("click", () => propose({action: "choose", value: o.value}));
      opts.appendChild(b);
    }
    $("options-box").hidden = !(s && s.options && s.options.length);
    const fields = $("fields");
    fields.textContent = "";
    for (const f of (s && s.fields) || []) {
      const row = el("div", {class: "field"});
      const id = "field-" + f.name;
      row.appendChild(el("label", {for: id}, f.label));
      const input = el("input", {id: id, "data-field": f.name, placeholder: f.value || "",
                                 maxlength: "200"});
      input.disabled = locked;
      const b = el("button", {type: "button", class: "propose", "data-field": f.name},
                   t("assist.propose"));
      b.disabled = locked;
      b.addEventListener("click", () => {
        if (input.value) propose({action: "fill", field: f.name, value: input.value});
      });
      row.appendChild(input);
      row.appendChild(b);
      fields.appendChild(row);
    }
    $("fields-box").hidden = !(s && s.fields && s.fields.length);
  }
  function propose(p) {
    if (!channel || channel.readyState !== "open" || !screen) return;
    proposalN += 1;
    const msg = Object.assign({type: "propose", id: "p" + proposalN, seq: screen.seq}, p);
    channel.send(JSON.stringify(msg));
    const el_ = $("proposal");
    el_.textContent = t("assist.proposal.pending");
    el_.dataset.result = "pending";
    el_.dataset.id = msg.id;
  }
  function showProposal(m) {
    const p = $("proposal");
    let text = t("assist.proposal." + m.result);
    if (m.result === "refused" && m.reason) {
      text += W["assist.lock." + m.reason] || W["assist.reason." + m.reason] || m.reason;
    }
    p.textContent = text;
    p.dataset.result = m.result;
    p.dataset.id = m.id;
  }

  // -- a chime while a call waits for an agent on duty who is not in a call ---------------
  // (Web Audio, no file; the context starts on the "on duty" tick, a user gesture)
  let audio = null;
  let ringTimer = null;
  function audioOn() {
    if (!audio && window.AudioContext) audio = new AudioContext();
    if (audio && audio.state === "suspended") audio.resume();
  }
  function chime() {
    if (!audio) return;
    const t0 = audio.currentTime;
    [[880, 0], [660, 0.28]].forEach(([f, dt]) => {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, t0 + dt);
      g.gain.exponentialRampToValueAtTime(0.25, t0 + dt + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + dt + 0.25);
      o.connect(g).connect(audio.destination);
      o.start(t0 + dt);
      o.stop(t0 + dt + 0.27);
    });
  }
  function ringing(on) {
    root.dataset.ringing = on ? "1" : "";
    if (on && !ringTimer) {
      chime();
      ringTimer = setInterval(chime, 3000);
    } else if (!on && ringTimer) {
      clearInterval(ringTimer);
      ringTimer = null;
    }
  }

  // -- controls ------------------------------------------------------------------------
  $("on-duty").addEventListener("change", (ev) => {
    if (ev.target.checked) audioOn();
    else ringing(false);
    send({type: "status", state: ev.target.checked ? "available" : "away"});
  });
  $("hold").addEventListener("click", () => current && send({type: "hold", call: current.call}));
  $("resume").addEventListener("click", () => {
    if (current) send({type: "resume", call: current.call});
    notice("");
  });
  $("transfer").addEventListener("click", () => {
    const to = $("transfer-to").value;
    if (current && to) { send({type: "transfer", call: current.call, to: to}); notice(t("assist.transferring"), "info"); }
  });
  for (const b of document.querySelectorAll("button.outcome")) {
    b.addEventListener("click", () => {
      const call = current ? current.call : wrapup;
      if (!call) return;
      send({type: "end", call: call, outcome: b.dataset.outcome});
      if (!current) { // after the citizen hung up: the outcome is recorded, the call is done
        wrapup = null;
        $("call").hidden = true;
        notice(t("assist.outcome_saved"), "info");
      }
    });
  }
  window.addEventListener("beforeunload", () => closePeer(true));
  connect();
})();
