// The printable poster: the QR code of the configured public address, and that address in words
// (read from the QR image's title, so the page holds no address of its own).
import { t, initLang } from './i18n.js';

initLang();
document.getElementById('print').addEventListener('click', () => window.print());
fetch('/qr.svg', { cache: 'no-store', credentials: 'omit' })
  .then((r) => (r.ok ? r.text() : Promise.reject(new Error(String(r.status)))))
  .then((svg) => {
    const title = new DOMParser().parseFromString(svg, 'image/svg+xml').querySelector('title');
    document.getElementById('address').textContent = title ? title.textContent : '';
  })
  .catch(() => {
    document.getElementById('qr').hidden = true;
    document.getElementById('address').textContent = t('poster.none');
  });
