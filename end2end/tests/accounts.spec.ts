import { expect, test } from '@playwright/test';
import { ADMIN } from './helpers';

test('the admin portal asks for a sign-in, and signing in and out works', async ({ page }) => {
  await page.goto('/admin/products');
  await expect(page.getByRole('heading', { name: 'Sign in to manage products' })).toBeVisible();
  await page.getByRole('link', { name: 'Sign in' }).first().click();
  await expect(page).toHaveURL(/\/login/);

  // A wrong password is refused without saying which half was wrong.
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('email or password is wrong');

  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin\/products$/);
  await expect(page.getByTestId('admin-products')).toBeVisible();
  await expect(page.getByTestId('signed-in-as')).toBeVisible();

  // The session cookie is HttpOnly: scripts in the page cannot read it.
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'vitrine_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Lax');
  expect(await page.evaluate(() => document.cookie)).not.toContain('vitrine_session');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('link', { name: 'Sign in' }).first()).toBeVisible();
  await page.goto('/admin/products');
  await expect(page.getByRole('heading', { name: 'Sign in to manage products' })).toBeVisible();
});

test('a customer is not let into the admin portal', async ({ page }) => {
  const email = `shopper-${Date.now()}@e2e.example`;
  const signup = await page.context().request.post('/api/auth/signup', {
    data: { name: 'E2E Shopper', email, password: 'shopper-password' },
  });
  expect(signup.status()).toBe(201);
  await page.goto('/admin/products');
  await expect(page.getByRole('alert')).toContainText('for its staff and sellers');
});
