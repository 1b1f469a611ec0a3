// cofre's browser terminal for an SSH session: xterm.js over a WebSocket to this same origin.
//
// Wire protocol, on /_cofre/terminal?cols=C&rows=R:
//   browser -> cofre  binary frame: keystrokes, the UTF-8 bytes of what xterm hands out
//                     text frame:   {"resize":[cols,rows]} whenever the terminal's size changes
//   cofre -> browser  binary frame: terminal output, written to xterm as it is
//                     text frame:   {"end":"<reason>"}: the session ended; the socket then closes
// A close without an end message means the connection was lost. Either way the reason stays on
// the page, in #cofre-status and in the terminal, and input stops.
'use strict';

(function () {
  // xterm creates <style> elements, which the page's Content-Security-Policy allows only with
  // this response's nonce: stamp it on each one as it is created, before it is inserted.
  const nonceMeta = document.querySelector('meta[name="cofre-style-nonce"]');
  if (nonceMeta && nonceMeta.content) {
    const nonce = nonceMeta.content;
    const createElement = Document.prototype.createElement;
    Document.prototype.createElement = function (name, options) {
      const element = createElement.call(this, name, options);
      if (String(name).toLowerCase() === 'style') {
        element.setAttribute('nonce', nonce);
      }
      return element;
    };
  }

  const LOST = 'Connection to the session was lost.';
  const status = document.getElementById('cofre-status');
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: 'DejaVu Sans Mono, Liberation Mono, monospace',
    fontSize: 14,
    scrollback: 5000,
    theme: { background: '#0b0e14', foreground: '#d8dee9', cursor: '#d8dee9' },
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById('terminal'));
  fit.fit();
  term.focus();

  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const socket = new WebSocket(
    scheme + location.host + '/_cofre/terminal?cols=' + term.cols + '&rows=' + term.rows,
  );
  socket.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  let sentSize = term.cols + 'x' + term.rows;
  let ended = false;

  function sendSize() {
    const size = term.cols + 'x' + term.rows;
    if (socket.readyState === WebSocket.OPEN && size !== sentSize) {
      socket.send(JSON.stringify({ resize: [term.cols, term.rows] }));
      sentSize = size;
    }
  }

  function end(reason) {
    if (ended) {
      return;
    }
    ended = true;
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
    status.textContent = reason;
    status.hidden = false;
    // Bold yellow, and without control characters: the reason is text, not terminal input.
    term.write('\r\n\x1b[1;33m' + reason.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ') + '\x1b[0m\r\n');
    fit.fit();
  }

  socket.addEventListener('open', sendSize);
  socket.addEventListener('message', function (event) {
    if (event.data instanceof ArrayBuffer) {
      term.write(new Uint8Array(event.data));
      return;
    }
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    if (message && typeof message.end === 'string') {
      end(message.end);
    }
  });
  socket.addEventListener('close', function () {
    end(LOST);
  });

  term.onData(function (data) {
    if (!ended && socket.readyState === WebSocket.OPEN) {
      socket.send(encoder.encode(data));
    }
  });
  // Some mouse reports are raw bytes rather than text: one byte per character code.
  term.onBinary(function (data) {
    if (!ended && socket.readyState === WebSocket.OPEN) {
      socket.send(Uint8Array.from(data, function (c) { return c.charCodeAt(0) & 0xff; }));
    }
  });
  term.onResize(sendSize);

  let resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { fit.fit(); }, 100);
  });
})();
