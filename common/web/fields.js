// Errors shown next to the field the API names, shared by the public and the staff pages.
// Each control sits in <div class="field" data-field="API path"> with a <p class="error"> in it. An API error
// names a path such as persons[0].phones[1]; the nearest enclosing field shows it.

export function fieldFor(root, path) {
  for (let p = path; p; p = p.replace(/(\[\d+\]|\.[a-z_]+)$/, '')) {
    const el = root.querySelector('[data-field="' + CSS.escape(p) + '"]');
    if (el) return el;
    if (!/(\[\d+\]|\.[a-z_]+)$/.test(p)) break;
  }
  return null;
}

export function showError(field, text) {
  const p = field.querySelector('.error');
  const control = field.querySelector('input, select, textarea');
  p.textContent = text;
  p.hidden = false;
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', p.id);
  }
}

export function clearErrors(root) {
  for (const p of root.querySelectorAll('.error')) {
    p.hidden = true;
    p.textContent = '';
  }
  for (const c of root.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

// Gives every error paragraph an id, so controls can point at it with aria-describedby.
let numbered = 0;
export function numberErrors(root) {
  for (const p of root.querySelectorAll('.error')) {
    if (!p.id) p.id = 'error-' + numbered++;
  }
}

export function focusFirstError(root) {
  const c = root.querySelector('[aria-invalid="true"]');
  if (c) c.focus();
}
